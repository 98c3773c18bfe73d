"""Downloading MovieLens zips (web.recommender.ingest.download) from a local HTTP server, and the command."""

from __future__ import annotations

import hashlib
import threading
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.recommender.ingest.movielens_files import TINY
from web.recommender.ingest import KNOWN_SETS, DownloadError, download_movielens, load_movielens
from web.recommender.models import Movie, Rating


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


@pytest.fixture
def site(tmp_path):
    """A real HTTP server on 127.0.0.1 serving ``tmp_path/site``; yields (folder, base URL)."""
    root = tmp_path / "site"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def publish(
    root: Path, name: str = "ml-latest-small", *, md5: str | None = None, payload: bytes | None = None
) -> bytes:
    """Put ``name.zip`` (the tiny set under ``name/``, as GroupLens nests it) and its .md5 on the site."""
    zip_path = root / f"{name}.zip"
    if payload is None:
        with zipfile.ZipFile(zip_path, "w") as archive:
            for file, lines in TINY.items():
                archive.writestr(f"{name}/{file}", "\r\n".join(lines) + "\r\n")
            archive.writestr(f"{name}/README.txt", "tiny test set\n")
    else:
        zip_path.write_bytes(payload)
    data = zip_path.read_bytes()
    digest = md5 or hashlib.md5(data).hexdigest()
    (root / f"{name}.zip.md5").write_text(f"MD5 ({name}.zip) = {digest}\n")
    return data


@pytest.mark.django_db(transaction=True)
def test_download_verifies_extracts_and_the_folder_loads(site, tmp_path):
    """A zip whose MD5 matches is extracted to dest/<name>/ with nothing else left, and it loads."""
    root, url = site
    publish(root)
    seen = []
    dest = tmp_path / "data"
    folder = download_movielens("ml-latest-small", dest, base_url=url, progress=lambda *args: seen.append(args))
    assert folder == dest / "ml-latest-small"
    assert sorted(p.name for p in folder.iterdir()) == ["README.txt", *sorted(TINY)]
    assert [p.name for p in dest.iterdir()] == ["ml-latest-small"]
    assert seen[-1][0] == "download ml-latest-small.zip" and seen[-1][1] == seen[-1][2] and seen[-1][3] == "bytes"
    load_movielens(folder)
    assert (Movie.objects.count(), Rating.objects.count()) == (5, 5)


def test_wrong_md5_is_refused_and_leaves_nothing_behind(site, tmp_path):
    """A download that does not match the published MD5 is discarded: no zip, no partial folder."""
    root, url = site
    publish(root, md5="0" * 32)
    dest = tmp_path / "data"
    with pytest.raises(DownloadError, match=r"MD5 [0-9a-f]{32} does not match the published 0{32}"):
        download_movielens("ml-latest-small", dest, base_url=url)
    assert list(dest.iterdir()) == []


def test_explicit_sha256_is_checked_too(site, tmp_path):
    """--sha256 must match as well; a right one passes, a wrong one is refused with nothing left."""
    root, url = site
    data = publish(root)
    with pytest.raises(DownloadError, match="SHA-256 .* does not match the expected"):
        download_movielens("ml-latest-small", tmp_path / "a", base_url=url, sha256="ab" * 32)
    assert list((tmp_path / "a").iterdir()) == []
    sha256 = hashlib.sha256(data).hexdigest()
    folder = download_movielens("ml-latest-small", tmp_path / "b", base_url=url, sha256=sha256)
    assert (folder / "ratings.csv").is_file()


def test_missing_md5_needs_an_explicit_sha256(site, tmp_path):
    """Without a published .md5 the download is refused unless the user gives a SHA-256."""
    root, url = site
    data = publish(root)
    (root / "ml-latest-small.zip.md5").unlink()
    with pytest.raises(DownloadError, match=r"HTTP 404.*no checksum to verify the download with \(pass --sha256"):
        download_movielens("ml-latest-small", tmp_path / "a", base_url=url)
    sha256 = hashlib.sha256(data).hexdigest()
    assert download_movielens("ml-latest-small", tmp_path / "b", base_url=url, sha256=sha256).is_dir()


def test_unknown_name_is_refused_listing_the_known_sets(tmp_path):
    """An unknown set name is refused before any request, listing the sets it knows."""
    with pytest.raises(DownloadError, match="unknown MovieLens set 'ml-5m'; known sets: " + ", ".join(KNOWN_SETS)):
        download_movielens("ml-5m", tmp_path, base_url="http://127.0.0.1:9")


def test_a_file_that_is_not_a_zip_is_refused_and_removed(site, tmp_path):
    """A payload with a matching checksum that is not a zip is refused and nothing stays behind."""
    root, url = site
    publish(root, payload=b"<html>not a zip</html>")
    with pytest.raises(DownloadError, match="not a valid zip"):
        download_movielens("ml-latest-small", tmp_path / "data", base_url=url)
    assert list((tmp_path / "data").iterdir()) == []


def test_base_url_comes_from_the_environment(site, tmp_path, monkeypatch):
    """MOVIELENS_BASE_URL replaces the GroupLens address when no base URL is passed."""
    root, url = site
    publish(root)
    monkeypatch.setenv("MOVIELENS_BASE_URL", url)
    assert (download_movielens("ml-latest-small", tmp_path / "data") / "movies.csv").is_file()


def test_zip_without_a_movielens_set_is_refused(site, tmp_path):
    """A valid zip that holds no ratings file is refused and its extraction removed."""
    root, url = site
    with zipfile.ZipFile(root / "ml-1m.zip", "w") as archive:
        archive.writestr("ml-1m/README", "nothing here\n")
    publish(root, "ml-1m", payload=(root / "ml-1m.zip").read_bytes())
    with pytest.raises(DownloadError, match="the zip holds no MovieLens set"):
        download_movielens("ml-1m", tmp_path / "data", base_url=url)
    assert list((tmp_path / "data").iterdir()) == []


def test_existing_folder_is_kept_unless_forced(site, tmp_path):
    """A second download returns the existing folder; --force replaces it with a fresh copy."""
    root, url = site
    publish(root)
    dest = tmp_path / "data"
    folder = download_movielens("ml-latest-small", dest, base_url=url)
    (folder / "marker").write_text("old")
    assert download_movielens("ml-latest-small", dest, base_url=url) == folder
    assert (folder / "marker").exists()
    download_movielens("ml-latest-small", dest, base_url=url, force=True)
    assert not (folder / "marker").exists() and (folder / "ratings.csv").is_file()
    assert [p.name for p in dest.iterdir()] == ["ml-latest-small"]


def test_download_command_prints_the_folder(site, tmp_path):
    """The command prints the extracted folder on stdout, ready for load_movielens."""
    root, url = site
    publish(root)
    out = StringIO()
    arguments = ["ml-latest-small", "--dest", str(tmp_path), "--base-url", url]
    call_command("download_movielens", *arguments, stdout=out, stderr=StringIO())
    assert out.getvalue().strip() == str(tmp_path / "ml-latest-small")


def test_download_command_turns_a_mismatch_into_a_command_error(site, tmp_path):
    """A checksum mismatch becomes a CommandError with the reason."""
    root, url = site
    publish(root, md5="f" * 32)
    with pytest.raises(CommandError, match="does not match the published"):
        call_command(
            "download_movielens", "ml-latest-small", "--dest", str(tmp_path), "--base-url", url,
            stdout=StringIO(), stderr=StringIO(),
        )  # fmt: skip
