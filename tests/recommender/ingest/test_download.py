"""Downloading MovieLens zips (web.recommender.ingest.download) from a local HTTP server, and the command."""

from __future__ import annotations

import hashlib
import re
import threading
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO, StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.recommender.ingest.movielens_files import TINY
from web.recommender.ingest import KNOWN_SETS, DownloadError, download_movielens, load_movielens
from web.recommender.ingest import download as download_module
from web.recommender.models import Movie, Rating


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


LOCAL_MIRROR_ENV = "MOVIELENS_ALLOW_INSECURE_HTTP"


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A real HTTP server on 127.0.0.1 serving ``tmp_path/site``; yields (folder, base URL).

    Plain http is only fetched with the explicit local-mirror setting, which this fixture sets."""
    monkeypatch.setenv(LOCAL_MIRROR_ENV, "1")
    root = tmp_path / "site"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def publish(root: Path, name: str = "ml-latest-small", *, payload: bytes | None = None) -> bytes:
    """Put ``name.zip`` (the tiny set under ``name/``, as GroupLens nests it) and a matching .md5 on the site.

    The .md5 is there as GroupLens publishes it, to show it is not what the download trusts."""
    zip_path = root / f"{name}.zip"
    if payload is None:
        with zipfile.ZipFile(zip_path, "w") as archive:
            for file, lines in TINY.items():
                archive.writestr(f"{name}/{file}", "\r\n".join(lines) + "\r\n")
            archive.writestr(f"{name}/README.txt", "tiny test set\n")
    else:
        zip_path.write_bytes(payload)
    data = zip_path.read_bytes()
    (root / f"{name}.zip.md5").write_text(f"MD5 ({name}.zip) = {hashlib.md5(data).hexdigest()}\n")
    return data


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.django_db(transaction=True)
def test_download_verifies_extracts_and_the_folder_loads(site, tmp_path):
    """A zip whose SHA-256 matches is extracted to dest/<name>/ with nothing else left, and it loads."""
    root, url = site
    sha256 = sha256_of(publish(root))
    seen = []
    dest = tmp_path / "data"
    folder = download_movielens(
        "ml-latest-small", dest, base_url=url, sha256=sha256, progress=lambda *args: seen.append(args)
    )
    assert folder == dest / "ml-latest-small"
    assert sorted(p.name for p in folder.iterdir()) == ["README.txt", *sorted(TINY)]
    assert [p.name for p in dest.iterdir()] == ["ml-latest-small"]
    assert seen[-1][0] == "download ml-latest-small.zip" and seen[-1][1] == seen[-1][2] and seen[-1][3] == "bytes"
    load_movielens(folder)
    assert (Movie.objects.count(), Rating.objects.count()) == (5, 5)


def test_a_wrong_explicit_sha256_is_refused_and_leaves_nothing_behind(site, tmp_path):
    """A download that does not match --sha256 is discarded: no zip, no partial folder; the right one passes."""
    root, url = site
    data = publish(root)
    with pytest.raises(DownloadError, match=r"SHA-256 [0-9a-f]{64} does not match the given (ab){32}"):
        download_movielens("ml-latest-small", tmp_path / "a", base_url=url, sha256="ab" * 32)
    assert list((tmp_path / "a").iterdir()) == []
    folder = download_movielens("ml-latest-small", tmp_path / "b", base_url=url, sha256=sha256_of(data))
    assert (folder / "ratings.csv").is_file()


def test_a_malformed_sha256_is_refused_before_any_request(tmp_path):
    with pytest.raises(DownloadError, match="--sha256 must be 64 hexadecimal digits; got 'abc'"):
        download_movielens("ml-latest-small", tmp_path, base_url="https://127.0.0.1:9", sha256="abc")


def test_unknown_name_is_refused_listing_the_known_sets(tmp_path):
    """An unknown set name is refused before any request, listing the sets it knows."""
    with pytest.raises(DownloadError, match="unknown MovieLens set 'ml-5m'; known sets: " + ", ".join(KNOWN_SETS)):
        download_movielens("ml-5m", tmp_path, base_url="http://127.0.0.1:9")


def test_a_file_that_is_not_a_zip_is_refused_and_removed(site, tmp_path):
    """A payload with a matching checksum that is not a zip is refused and nothing stays behind."""
    root, url = site
    sha256 = sha256_of(publish(root, payload=b"<html>not a zip</html>"))
    with pytest.raises(DownloadError, match="not a valid zip"):
        download_movielens("ml-latest-small", tmp_path / "data", base_url=url, sha256=sha256)
    assert list((tmp_path / "data").iterdir()) == []


def test_base_url_comes_from_the_environment(site, tmp_path, monkeypatch):
    """MOVIELENS_BASE_URL replaces the GroupLens address when no base URL is passed."""
    root, url = site
    sha256 = sha256_of(publish(root))
    monkeypatch.setenv("MOVIELENS_BASE_URL", url)
    assert (download_movielens("ml-latest-small", tmp_path / "data", sha256=sha256) / "movies.csv").is_file()


def test_zip_without_a_movielens_set_is_refused(site, tmp_path):
    """A valid zip that holds no ratings file is refused and its extraction removed."""
    root, url = site
    with zipfile.ZipFile(root / "ml-1m.zip", "w") as archive:
        archive.writestr("ml-1m/README", "nothing here\n")
    sha256 = sha256_of(publish(root, "ml-1m", payload=(root / "ml-1m.zip").read_bytes()))
    with pytest.raises(DownloadError, match="the zip holds no MovieLens set"):
        download_movielens("ml-1m", tmp_path / "data", base_url=url, sha256=sha256)
    assert list((tmp_path / "data").iterdir()) == []


def test_existing_folder_is_kept_unless_forced(site, tmp_path):
    """A second download returns the existing folder; --force replaces it with a fresh copy."""
    root, url = site
    sha256 = sha256_of(publish(root))
    dest = tmp_path / "data"
    folder = download_movielens("ml-latest-small", dest, base_url=url, sha256=sha256)
    (folder / "marker").write_text("old")
    assert download_movielens("ml-latest-small", dest, base_url=url, sha256=sha256) == folder
    assert (folder / "marker").exists()
    download_movielens("ml-latest-small", dest, base_url=url, sha256=sha256, force=True)
    assert not (folder / "marker").exists() and (folder / "ratings.csv").is_file()
    assert [p.name for p in dest.iterdir()] == ["ml-latest-small"]


def test_download_command_prints_the_folder(site, tmp_path):
    """The command prints the extracted folder on stdout, ready for load_movielens."""
    root, url = site
    sha256 = sha256_of(publish(root))
    out = StringIO()
    arguments = ["ml-latest-small", "--dest", str(tmp_path), "--base-url", url, "--sha256", sha256]
    call_command("download_movielens", *arguments, stdout=out, stderr=StringIO())
    assert out.getvalue().strip() == str(tmp_path / "ml-latest-small")


def test_download_command_turns_a_mismatch_into_a_command_error(site, tmp_path):
    """A checksum mismatch becomes a CommandError with the reason."""
    root, url = site
    publish(root)
    with pytest.raises(CommandError, match="does not match the pinned"):
        call_command(
            "download_movielens", "ml-latest-small", "--dest", str(tmp_path), "--base-url", url,
            stdout=StringIO(), stderr=StringIO(),
        )  # fmt: skip


def test_download_command_allow_insecure_http_flag_is_the_local_mirror_setting(site, tmp_path, monkeypatch):
    """--allow-insecure-http does what the environment setting does; without either, http is refused."""
    root, url = site
    monkeypatch.delenv(LOCAL_MIRROR_ENV)
    arguments = ["ml-latest-small", "--dest", str(tmp_path), "--base-url", url, "--sha256", sha256_of(publish(root))]
    with pytest.raises(CommandError, match="only https:// URLs are fetched"):
        call_command("download_movielens", *arguments, stdout=StringIO(), stderr=StringIO())
    out = StringIO()
    call_command("download_movielens", *arguments, "--allow-insecure-http", stdout=out, stderr=StringIO())
    assert out.getvalue().strip() == str(tmp_path / "ml-latest-small")


# -- issue #16, item 12: a hostile mirror, other schemes, archive bombs -----------------------------


def test_a_mirror_serving_another_zip_with_its_own_md5_is_refused_by_the_pinned_sha256(site, tmp_path, monkeypatch):
    """A mirror (or anyone on the path) that serves its own ml-latest-small.zip and a matching .md5 is refused:
    the zip must match the SHA-256 pinned in the code for that set, not a checksum from the same server."""
    root, url = site
    monkeypatch.setenv(LOCAL_MIRROR_ENV, "1")
    publish(root)  # a valid MovieLens layout with a correct .md5, but not GroupLens' zip
    dest = tmp_path / "data"
    with pytest.raises(DownloadError, match=r"SHA-256 [0-9a-f]{64} does not match the pinned 696d65a3"):
        download_movielens("ml-latest-small", dest, base_url=url)
    assert list(dest.iterdir()) == []


def test_a_set_without_a_pinned_sha256_is_refused_before_any_request_unless_one_is_given(site, tmp_path, monkeypatch):
    """ml-latest changes over time, so no digest is pinned: without --sha256 nothing is fetched at all."""
    root, url = site
    monkeypatch.setenv(LOCAL_MIRROR_ENV, "1")
    data = publish(root, "ml-latest")
    with pytest.raises(DownloadError, match=r"no pinned SHA-256 for ml-latest.*pass --sha256"):
        download_movielens("ml-latest", tmp_path / "a", base_url=url)
    assert not (tmp_path / "a").exists() or list((tmp_path / "a").iterdir()) == []
    sha256 = hashlib.sha256(data).hexdigest()
    assert (download_movielens("ml-latest", tmp_path / "b", base_url=url, sha256=sha256) / "ratings.csv").is_file()


def test_plain_http_is_refused_without_the_local_mirror_setting(site, tmp_path, monkeypatch):
    """Only https is fetched; http needs the explicit local-mirror setting, even with a right SHA-256."""
    root, url = site
    monkeypatch.delenv(LOCAL_MIRROR_ENV, raising=False)
    sha256 = hashlib.sha256(publish(root)).hexdigest()
    with pytest.raises(DownloadError, match=rf"only https:// URLs are fetched.*{LOCAL_MIRROR_ENV}=1"):
        download_movielens("ml-latest-small", tmp_path / "data", base_url=url, sha256=sha256)
    assert not (tmp_path / "data").exists() or list((tmp_path / "data").iterdir()) == []


@pytest.mark.parametrize("scheme_url", ["file:///etc", "ftp://127.0.0.1/pub", "data:,x", "gopher://127.0.0.1"])
def test_other_schemes_are_refused_even_with_the_local_mirror_setting(tmp_path, monkeypatch, scheme_url):
    """file://, ftp:// and the rest are never opened: a base URL read from the environment must not read local files."""
    monkeypatch.setenv(LOCAL_MIRROR_ENV, "1")
    with pytest.raises(DownloadError, match="only https:// URLs are fetched"):
        download_movielens("ml-latest-small", tmp_path / "data", base_url=scheme_url, sha256="ab" * 32)


def test_a_file_url_mirror_cannot_read_local_files(tmp_path, monkeypatch):
    """The attack behind the scheme rule: a file:// base URL pointing at a folder the attacker prepared."""
    local = tmp_path / "local"
    local.mkdir()
    sha256 = hashlib.sha256(publish(local)).hexdigest()
    monkeypatch.setenv(LOCAL_MIRROR_ENV, "1")
    with pytest.raises(DownloadError, match="only https:// URLs are fetched"):
        download_movielens("ml-latest-small", tmp_path / "data", base_url=local.as_uri(), sha256=sha256)


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for member, content in members.items():
            archive.writestr(member, content)
    return buffer.getvalue()


def _tiny_members(name: str = "ml-latest-small") -> dict[str, bytes]:
    return {f"{name}/{file}": ("\r\n".join(lines) + "\r\n").encode() for file, lines in TINY.items()}


def test_an_archive_that_expands_past_the_cap_is_refused_and_nothing_is_left(site, tmp_path, monkeypatch):
    """A zip bomb: 64 MiB of zeros compress to about 64 KB. Past the cap on expanded bytes it is refused
    while extracting, with nothing left behind."""
    root, url = site
    monkeypatch.setenv(LOCAL_MIRROR_ENV, "1")
    monkeypatch.setattr(download_module, "MAX_EXTRACTED_BYTES", 16 << 20)
    members = _tiny_members() | {"ml-latest-small/genome-scores.csv": bytes(64 << 20)}
    payload = _zip_bytes(members)
    assert len(payload) < 1 << 20
    sha256 = hashlib.sha256(publish(root, payload=payload)).hexdigest()
    dest = tmp_path / "data"
    with pytest.raises(DownloadError, match=r"expands to more than 16,777,216 bytes"):
        download_movielens("ml-latest-small", dest, base_url=url, sha256=sha256)
    assert list(dest.iterdir()) == []


def test_an_archive_with_too_many_members_is_refused(site, tmp_path, monkeypatch):
    """Thousands of empty members (an inode flood) are refused before anything is written."""
    root, url = site
    monkeypatch.setenv(LOCAL_MIRROR_ENV, "1")
    monkeypatch.setattr(download_module, "MAX_MEMBERS", 50)
    members = _tiny_members() | {f"ml-latest-small/empty-{i}.txt": b"" for i in range(60)}
    sha256 = hashlib.sha256(publish(root, payload=_zip_bytes(members))).hexdigest()
    dest = tmp_path / "data"
    with pytest.raises(DownloadError, match=r"64 members; at most 50"):
        download_movielens("ml-latest-small", dest, base_url=url, sha256=sha256)
    assert list(dest.iterdir()) == []


@pytest.mark.parametrize("member", ["../escaped.csv", "ml-latest-small/../../escaped.csv", "/tmp/escaped.csv"])
def test_a_member_outside_the_folder_is_refused(site, tmp_path, monkeypatch, member):
    """Path traversal: a member that would land outside the extraction folder is refused, nothing written."""
    root, url = site
    monkeypatch.setenv(LOCAL_MIRROR_ENV, "1")
    members = _tiny_members() | {member: b"owned\n"}
    sha256 = hashlib.sha256(publish(root, payload=_zip_bytes(members))).hexdigest()
    dest = tmp_path / "deep" / "data"
    with pytest.raises(DownloadError, match=r"refusing member .* outside the folder"):
        download_movielens("ml-latest-small", dest, base_url=url, sha256=sha256)
    assert list(dest.iterdir()) == []
    assert not list(tmp_path.rglob("escaped.csv"))


class _RedirectingHandler(SimpleHTTPRequestHandler):
    """Answers every GET with a redirect to ``self.server.location``."""

    def do_GET(self):  # noqa: N802 - the base class's name
        self.send_response(302)
        self.send_header("Location", self.server.location)
        self.end_headers()

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


@pytest.mark.parametrize(
    ("location", "refusal"),
    [
        ("ftp://127.0.0.1/ml-latest-small.zip", "ftp://127.0.0.1/ml-latest-small.zip: only https:// URLs are fetched"),
        # urllib itself refuses a redirect to file:// before the scheme check is asked.
        ("file:///etc/passwd", "Redirection to url 'file:///etc/passwd' is not allowed"),
    ],
)
def test_a_redirect_to_another_scheme_is_refused(tmp_path, monkeypatch, location, refusal):
    """The scheme rule holds for redirects too (an https mirror could otherwise send the client to http or ftp)."""
    monkeypatch.setenv(LOCAL_MIRROR_ENV, "1")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RedirectingHandler)
    server.location = location
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with pytest.raises(DownloadError, match=re.escape(refusal)):
            download_movielens("ml-latest-small", tmp_path / "data", base_url=url, sha256="ab" * 32)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert list((tmp_path / "data").iterdir()) == []
