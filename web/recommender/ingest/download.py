"""Fetch a MovieLens zip from GroupLens, verify its checksum, extract it atomically.

GroupLens publishes ``<name>.zip.md5`` next to each zip; the download is
compared with it, and with a SHA-256 the user passes (``--sha256``) when
given. Nothing partial is ever left behind: the zip streams to a temporary
file, is extracted into a temporary folder beside the destination, and only
a complete, verified folder is renamed to ``dest_dir/<name>``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from web.recommender.ingest.errors import DownloadError
from web.recommender.ingest.progress import ProgressCallback, report

KNOWN_SETS = ("ml-latest-small", "ml-latest", "ml-25m", "ml-32m", "ml-100k", "ml-1m")
DEFAULT_BASE_URL = "https://files.grouplens.org/datasets/movielens"
BASE_URL_ENV = "MOVIELENS_BASE_URL"
"""Environment variable that overrides :data:`DEFAULT_BASE_URL` (a mirror, or a local server in tests)."""
TIMEOUT_SECONDS = 60.0
"""Socket timeout of each HTTP request, in seconds (a stalled connection fails instead of hanging)."""
CHUNK_BYTES = 1 << 20
_USER_AGENT = "movielens-recommender-ingest (+https://grouplens.org/datasets/movielens/)"
_MD5 = re.compile(r"\b([0-9a-fA-F]{32})\b")


def base_url_default() -> str:
    """``$MOVIELENS_BASE_URL`` or the GroupLens address."""
    return os.environ.get(BASE_URL_ENV, "").strip() or DEFAULT_BASE_URL


def download_movielens(
    name: str,
    dest_dir: Path | str,
    *,
    base_url: str | None = None,
    sha256: str | None = None,
    force: bool = False,
    progress: ProgressCallback | None = None,
    timeout: float = TIMEOUT_SECONDS,
) -> Path:
    """Download ``<base_url>/<name>.zip`` and extract it to ``dest_dir/<name>``; return that folder.

    An existing ``dest_dir/<name>`` is returned as is unless ``force``.
    Raises :class:`DownloadError` for an unknown name, an HTTP or network
    failure, a checksum mismatch, or a zip that is not a MovieLens set.
    """
    if name not in KNOWN_SETS:
        raise DownloadError(f"unknown MovieLens set {name!r}; known sets: {', '.join(KNOWN_SETS)}")
    expected_sha256 = _normalise_sha256(sha256)
    dest_dir = Path(dest_dir)
    target = dest_dir / name
    if target.is_dir() and not force:
        return target
    url = f"{(base_url or base_url_default()).rstrip('/')}/{name}.zip"
    dest_dir.mkdir(parents=True, exist_ok=True)

    expected_md5 = _published_md5(url, timeout, required=expected_sha256 is None)
    fd, zip_name = tempfile.mkstemp(prefix=f".{name}-", suffix=".zip.part", dir=dest_dir)
    zip_path = Path(zip_name)
    try:
        with os.fdopen(fd, "wb") as out:
            md5, sha = _fetch(url, out, timeout, progress, f"download {name}.zip")
        if expected_md5 is not None and md5 != expected_md5:
            raise DownloadError(f"{url}: MD5 {md5} does not match the published {expected_md5}; the file was discarded")
        if expected_sha256 is not None and sha != expected_sha256:
            raise DownloadError(
                f"{url}: SHA-256 {sha} does not match the expected {expected_sha256}; the file was discarded"
            )
        _extract(zip_path, dest_dir, target, force=force)
    finally:
        zip_path.unlink(missing_ok=True)
    return target


def _normalise_sha256(sha256: str | None) -> str | None:
    if sha256 is None or not sha256.strip():
        return None
    value = sha256.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", value):
        raise DownloadError(f"--sha256 must be 64 hexadecimal digits; got {sha256!r}")
    return value


def _open(url: str, timeout: float):
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    try:
        return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - http(s) URL built above
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"{url}: cannot connect ({reason})") from exc


def _published_md5(url: str, timeout: float, *, required: bool) -> str | None:
    """The MD5 in ``<url>.md5`` ("MD5 (x.zip) = <hex>" or "<hex>  x.zip"); None if absent and not required."""
    try:
        with _open(url + ".md5", timeout) as response:
            text = response.read(4096).decode("ascii", "replace")
    except DownloadError as exc:
        if required:
            hint = "no checksum to verify the download with (pass --sha256 to use your own)"
            raise DownloadError(f"{exc}; {hint}") from exc
        return None
    match = _MD5.search(text)
    if match is None:
        raise DownloadError(f"{url}.md5 holds no MD5 checksum: {text[:80]!r}")
    return match.group(1).lower()


def _fetch(url: str, out, timeout: float, progress: ProgressCallback | None, stage: str) -> tuple[str, str]:
    """Stream ``url`` into the binary file ``out``; returns its (md5, sha256) hex digests."""
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with _open(url, timeout) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        done = 0
        report(progress, stage, 0, total, "bytes")
        try:
            while chunk := response.read(CHUNK_BYTES):
                out.write(chunk)
                md5.update(chunk)
                sha.update(chunk)
                done += len(chunk)
                report(progress, stage, done, total, "bytes")
        except (TimeoutError, OSError) as exc:
            raise DownloadError(f"{url}: download interrupted after {done:,} bytes ({exc})") from exc
    if total is not None and done != total:
        raise DownloadError(f"{url}: got {done:,} of {total:,} bytes; the file was discarded")
    return md5.hexdigest(), sha.hexdigest()


def _extract(zip_path: Path, dest_dir: Path, target: Path, *, force: bool) -> None:
    """Extract into a temporary folder in ``dest_dir``, then rename it to ``target`` in one step."""
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=dest_dir))
    try:
        try:
            with zipfile.ZipFile(zip_path) as archive:
                for member in archive.namelist():
                    # A member such as "../x" or "/etc/x" would land outside the folder.
                    resolved = (work / member).resolve()
                    if not resolved.is_relative_to(work.resolve()):
                        raise DownloadError(f"{zip_path.name}: refusing member {member!r} outside the folder")
                archive.extractall(work)
        except zipfile.BadZipFile as exc:
            raise DownloadError(f"the download is not a valid zip file ({exc})") from exc
        entries = [p for p in work.iterdir() if not p.name.startswith("__MACOSX")]
        # GroupLens zips hold one top folder (ml-latest-small/...); use its content.
        root = entries[0] if len(entries) == 1 and entries[0].is_dir() else work
        from web.recommender.ingest.detect import detect_layout  # late: keeps this module light

        try:
            detect_layout(root)
        except Exception as exc:
            raise DownloadError(f"the zip holds no MovieLens set: {exc}") from exc
        if force and target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}-old-", dir=dest_dir))
            target.rename(old / target.name)
            shutil.rmtree(old, ignore_errors=True)
        root.rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
