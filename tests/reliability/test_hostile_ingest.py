"""Hostile MovieLens files through ``manage.py load_movielens``: file, line and reason, and nothing stored changes.

A small set is loaded first, so "nothing changed" is checked against real
rows. Each row of the table damages one file of a good set in one way; the
command must fail with a ``CommandError`` that names the file, the line and
the reason and says nothing was loaded, and every stored table must keep
its checksum. The 1 GB line runs the real command in a subprocess and
checks its peak memory.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.helpers import REPO, database_url
from tests.recommender.ingest.movielens_files import TINY, replace_line, write_set
from tests.reliability.snapshot import stored
from web.recommender.ingest.textfile import MAX_LINE_BYTES

pytestmark = pytest.mark.django_db(transaction=True)

BAD_FILES = [
    # (case, file, line to replace or None for the whole file, new content, message)
    ("wrong columns: renamed", "ratings.csv", 1, b"userId,movieId,score,timestamp",
     "ratings.csv line 1: expected the header 'userId,movieId,rating,timestamp', got 'userId,movieId,score,timestamp'"),
    ("wrong columns: swapped", "ratings.csv", 1, b"movieId,userId,rating,timestamp",
     "ratings.csv line 1: expected the header"),
    ("wrong columns: one missing", "movies.csv", 1, b"movieId,title", "movies.csv line 1: expected the header"),
    ("wrong columns: a record with five", "ratings.csv", 3, b"1,2,3.5,964981247,9",
     "ratings.csv line 3: expected 4 fields separated by ',', got 5"),
    ("wrong columns: a record with three", "ratings.csv", 3, b"1,2,3.5",
     "ratings.csv line 3: expected 4 fields separated by ',', got 3"),
    ("wrong columns: tab separated", "ratings.csv", None, b"userId\tmovieId\trating\ttimestamp\r\n1\t1\t4.0\t1\r\n",
     "ratings.csv line 1: expected the header"),
    ("bad number: id", "ratings.csv", 3, b"1,abc,3.5,964981247", "ratings.csv line 3: movieId 'abc' is not an integer"),
    ("bad number: rating", "ratings.csv", 3, b"1,2,four,964981247", "ratings.csv line 3: rating 'four' is not a number"),
    ("bad number: timestamp", "ratings.csv", 3, b"1,2,3.5,yesterday",
     "ratings.csv line 3: timestamp 'yesterday' is not an integer"),
    ("bad number: huge id", "ratings.csv", 3, b"99999999999999999999,2,3.5,964981247",
     "ratings.csv line 3: userId 99999999999999999999 is too large"),
    ("bad number: a runaway field is cut short in the message", "ratings.csv", 3, b"1,2,3.5," + b"7" * 5000,
     "ratings.csv line 3: timestamp " + "7" * 40 + "... (5,000 characters) is too large"),
    ("bad number: id over int32", "ratings.csv", 3, b"2147483648,2,3.5,964981247",
     "ratings.csv line 3: userId 2147483648 is too large"),
    ("bad number: negative id", "ratings.csv", 3, b"-1,2,3.5,964981247",
     "ratings.csv line 3: userId -1 is not a positive integer"),
    ("bad number: link", "links.csv", 3, b"2,tt0112346,9087", "links.csv line 3: imdbId 'tt0112346' is not a number"),
    ("rating out of range: 6", "ratings.csv", 4, b"2,1,6,964982224", "ratings.csv line 4: rating 6.0 is not one of"),
    ("rating out of range: 0", "ratings.csv", 4, b"2,1,0,964982224", "ratings.csv line 4: rating 0.0 is not one of"),
    ("rating out of range: 2.3", "ratings.csv", 4, b"2,1,2.3,964982224", "ratings.csv line 4: rating 2.3 is not one of"),
    ("rating out of range: -0.5", "ratings.csv", 4, b"2,1,-0.5,964982224", "ratings.csv line 4: rating -0.5 is not one"),
    ("rating out of range: NaN", "ratings.csv", 4, b"2,1,NaN,964982224", "ratings.csv line 4: rating 'NaN' is not a number"),
    ("rating out of range: inf", "ratings.csv", 4, b"2,1,inf,964982224", "ratings.csv line 4: rating inf is not one of"),
    ("rating out of range: empty", "ratings.csv", 4, b"2,1,,964982224", "ratings.csv line 4: rating is empty"),
    ("duplicate pair: ratings", "ratings.csv", 5, b"1,1,3.0,964983815", "ratings.csv line 5: user 1 rated movie 1 already on line 2"),
    ("duplicate pair: movie ids", "movies.csv", 4, b"1,Heat (1995),Action", "movies.csv line 4: movieId 1 already appears on line 2"),
    ("unknown movie id: rating", "ratings.csv", 5, b"2,99,3.0,964983815", "ratings.csv line 5: movieId 99 is not in movies.csv"),
    ("unknown movie id: tag", "tags.csv", 3, b"1,7,pixar,1445714994", "tags.csv line 3: movieId 7 is not in movies.csv"),
    ("unknown movie id: link", "links.csv", 3, b"9,0112346,9087", "links.csv line 3: movieId 9 is not in movies.csv"),
    ("wrong encoding: latin-1 title", "movies.csv", 3, b"2,Caf\xe9 (1995),Comedy",
     "movies.csv line 3: not valid UTF-8 (byte 0xE9 at column 6)"),
    ("wrong encoding: UTF-16 file", "ratings.csv", None,
     "userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n".encode("utf-16"),
     "ratings.csv line 1: not valid UTF-8 (byte 0xFF at column 1)"),
    ("wrong encoding: NUL in a title", "movies.csv", 3, b"2,Ca\x00fe (1995),Comedy", "movies.csv line 3: title contains a NUL"),
    ("empty file: ratings", "ratings.csv", None, b"", "ratings.csv line 1: file is empty"),
    ("empty file: movies, blanks only", "movies.csv", None, b"\r\n\r\n  \r\n", "movies.csv line 1: file is empty"),
    ("empty file: header only", "ratings.csv", None, b"userId,movieId,rating,timestamp\r\n", "ratings.csv line 2: no records"),
    ("truncated file: mid record", "ratings.csv", None, b"userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n1,2,3.",
     "ratings.csv line 3: expected 4 fields separated by ',', got 3 (the file ends in the middle of a record: truncated?)"),
    ("truncated file: inside a quoted title", "movies.csv", None,
     b'movieId,title,genres\r\n1,Toy Story (1995),Comedy\r\n2,"American Presi',
     "movies.csv line 3: expected 3 fields separated by ',', got 2"),
]


def _load(folder: Path) -> None:
    call_command("load_movielens", str(folder), quiet=True)


@pytest.fixture
def loaded(tmp_path) -> dict:
    """The tiny set loaded (movies, ratings, tags), and the stored tables' checksums after it."""
    _load(write_set(tmp_path / "loaded"))
    return stored()


@pytest.mark.parametrize(("case", "file", "line", "content", "message"), BAD_FILES, ids=[row[0] for row in BAD_FILES])
def test_bad_files_are_refused_and_nothing_changes(tmp_path, loaded, case, file, line, content, message):
    """Each hostile file is a CommandError naming file, line and reason, and every stored table keeps its checksum."""
    folder = write_set(tmp_path / "bad")
    if line is None:
        (folder / file).write_bytes(content)
    else:
        replace_line(folder / file, line, content)
    with pytest.raises(CommandError) as caught:
        _load(folder)
    assert str(caught.value).startswith(message), str(caught.value)
    assert str(caught.value).endswith("Nothing was loaded.")
    assert stored() == loaded


def test_a_good_copy_of_the_set_still_loads(tmp_path, loaded):
    """The control: the undamaged set loads again without error (and, being the same, changes nothing)."""
    _load(write_set(tmp_path / "again"))
    assert stored() == loaded


def _write_giant_line_set(folder: Path, giant_bytes: int) -> Path:
    """The tiny set whose ratings.csv has, as line 4, one record padded to ``giant_bytes`` (written in 8 MB pieces)."""
    write_set(folder, {name: lines for name, lines in TINY.items() if name != "ratings.csv"})
    piece = b"9" * (8 << 20)
    with (folder / "ratings.csv").open("wb") as out:
        out.write(b"userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n1,2,3.5,964981247\r\n2,1,5.0,")
        for _ in range(giant_bytes // len(piece)):
            out.write(piece)
        out.write(b"\r\n2,3,0.5,964983815\r\n")
    return folder


def test_a_one_gigabyte_line_is_refused_without_reading_it_into_memory(tmp_path, loaded):
    """``manage.py load_movielens`` on a ratings.csv with a 1 GB line exits 1 naming line 4, peaking far below 1 GB.

    The peak is compared with the same command refusing the same set with a short bad line, measured in the same
    run: what a process of this app weighs at start depends on what else the suite has loaded into the environment,
    what the giant line adds must stay far below its own size (before the fix it was read whole: 4.3 GB)."""
    env = dict(os.environ, DATABASE_URL=database_url(), PYTHONPATH=str(REPO))
    small = _write_giant_line_set(tmp_path / "small", 0)
    _, _, baseline_mb = _run_measured([sys.executable, "manage.py", "load_movielens", str(small)], env, tmp_path)
    folder = _write_giant_line_set(tmp_path / "giant", 1 << 30)
    assert (folder / "ratings.csv").stat().st_size > 1 << 30
    code, stderr, peak_mb = _run_measured([sys.executable, "manage.py", "load_movielens", str(folder)], env, tmp_path)
    (folder / "ratings.csv").unlink()  # 1 GB of tmp space back at once
    assert code == 1, stderr[-2000:]
    assert f"ratings.csv line 4: line is longer than {MAX_LINE_BYTES:,} bytes" in stderr, stderr[-2000:]
    assert "Nothing was loaded." in stderr
    assert peak_mb - baseline_mb < 256, f"the refused load peaked at {peak_mb:.0f} MB, {baseline_mb:.0f} MB without the giant line"
    assert stored() == loaded


def _run_measured(argv: list[str], env: dict, scratch: Path) -> tuple[int, str, float]:
    """Run ``argv``; return its exit code, its stderr and its own peak resident memory in MB (``wait4``'s rusage)."""
    errors = scratch / "stderr.txt"
    with errors.open("wb") as sink:
        process = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=sink)
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here; Popen must not wait again
    return process.returncode, errors.read_text(errors="replace"), usage.ru_maxrss / 1024  # Linux: KB
