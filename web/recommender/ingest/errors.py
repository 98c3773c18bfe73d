"""The exceptions of the ingest, each named after its condition."""

from __future__ import annotations


class IngestError(Exception):
    """A MovieLens file was refused: it names the file, the line as an editor shows it, and why.

    ``line`` is 1-based and counts the header as line 1, so ``ratings.csv
    line 17`` is the 17th line in any text editor. It is ``None`` when the
    problem is the file as a whole (missing, unreadable).
    """

    def __init__(self, file: str, line: int | None, reason: str) -> None:
        self.file = file
        self.line = line
        self.reason = reason
        where = file if line is None else f"{file} line {line}"
        super().__init__(f"{where}: {reason}")


class DownloadError(Exception):
    """A MovieLens download failed or was refused (unknown name, checksum mismatch, HTTP error)."""
