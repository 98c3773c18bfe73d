"""Fetch a MovieLens zip from GroupLens, verify its SHA-256, extract it atomically.

The zip must match a SHA-256 known before the request: the one pinned here for the set
(:data:`PINNED_SHA256`), or one the user passes (``--sha256``) for a set without a pin. The ``.md5``
GroupLens publishes beside each zip is not used: it comes from the same server as the zip, so whoever
can change one can change the other. Only ``https://`` is fetched (redirects included); plain
``http://`` needs the explicit local-mirror setting (:data:`ALLOW_INSECURE_HTTP_ENV`, ``--allow-insecure-http``),
and no other scheme is ever opened. The extracted archive is capped (:data:`MAX_EXTRACTED_BYTES`,
:data:`MAX_MEMBERS`), and a member that would land outside its folder is refused.

Nothing partial is ever left behind: the zip streams to a temporary file, is extracted into a
temporary folder beside the destination, and only a complete, verified folder is renamed to
``dest_dir/<name>``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from web.recommender.ingest.detect import detect_layout
from web.recommender.ingest.errors import DownloadError
from web.recommender.ingest.progress import ProgressCallback, report

KNOWN_SETS = ("ml-latest-small", "ml-latest", "ml-25m", "ml-32m", "ml-100k", "ml-1m")

PINNED_SHA256 = {
    "ml-latest-small": "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
    "ml-100k": "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
    "ml-1m": "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
    "ml-25m": "8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa",
}
"""SHA-256 of GroupLens' zip for each set whose zip does not change.

Not computed here (GroupLens cannot be reached from the build machines): taken from TensorFlow Datasets'
``tensorflow_datasets/url_checksums/movielens.txt`` (github.com/tensorflow/datasets, commit 1c076ac3,
which also records the sizes: 978,202, 4,924,029, 5,917,549 and 261,978,986 bytes), and the same four
values appear pinned in several unrelated public projects. ml-latest is re-released over time and ml-32m
has no value from a source we could check, so those need ``--sha256``."""

MAX_EXTRACTED_BYTES = 8 << 30
"""Most bytes an archive may expand to. The largest set, ml-latest, is about 1.5 GB extracted; a zip bomb
(GBs of zeros in a few KB) stops here instead of filling the disk."""
MAX_MEMBERS = 1000
"""Most members an archive may hold (the sets have at most a few dozen, __MACOSX entries included)."""

DEFAULT_BASE_URL = "https://files.grouplens.org/datasets/movielens"
BASE_URL_ENV = "MOVIELENS_BASE_URL"
"""Environment variable that overrides :data:`DEFAULT_BASE_URL` (a mirror, or a local server in tests)."""
ALLOW_INSECURE_HTTP_ENV = "MOVIELENS_ALLOW_INSECURE_HTTP"
"""Set to ``1`` to allow a plain ``http://`` local mirror (tests, an offline LAN copy). The SHA-256 is
still required, so this loses only the privacy of the transfer, not its integrity."""
TIMEOUT_SECONDS = 60.0
"""Socket timeout of each HTTP request, in seconds (a stalled connection fails instead of hanging)."""
CHUNK_BYTES = 1 << 20
_USER_AGENT = "movielens-recommender-ingest (+https://grouplens.org/datasets/movielens/)"


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
    allow_insecure_http: bool | None = None,
    progress: ProgressCallback | None = None,
    timeout: float = TIMEOUT_SECONDS,
) -> Path:
    """Download ``<base_url>/<name>.zip`` and extract it to ``dest_dir/<name>``; return that folder.

    The zip must match ``sha256`` if given, else the set's :data:`PINNED_SHA256`; a set with neither is
    refused before any request. ``allow_insecure_http`` (default: ``$MOVIELENS_ALLOW_INSECURE_HTTP=1``)
    lets a plain ``http://`` local mirror be used. An existing ``dest_dir/<name>`` is returned as is
    unless ``force``. Raises :class:`DownloadError` for an unknown name, a missing SHA-256, a refused
    URL scheme, an HTTP or network failure, a checksum mismatch, or a zip that is oversized, unsafe or
    not a MovieLens set.
    """
    if name not in KNOWN_SETS:
        raise DownloadError(f"unknown MovieLens set {name!r}; known sets: {', '.join(KNOWN_SETS)}")
    given_sha256 = _normalise_sha256(sha256)
    expected_sha256 = given_sha256 or PINNED_SHA256.get(name)
    if expected_sha256 is None:
        raise DownloadError(
            f"no pinned SHA-256 for {name} (GroupLens re-releases it, or no value could be verified); "
            "pass --sha256 with the digest of the zip you mean to accept"
        )
    if allow_insecure_http is None:
        allow_insecure_http = insecure_http_allowed_by_environment()
    url = f"{(base_url or base_url_default()).rstrip('/')}/{name}.zip"
    _check_scheme(url, allow_insecure_http)
    dest_dir = Path(dest_dir)
    target = dest_dir / name
    if target.is_dir() and not force:
        return target
    dest_dir.mkdir(parents=True, exist_ok=True)

    fd, zip_name = tempfile.mkstemp(prefix=f".{name}-", suffix=".zip.part", dir=dest_dir)
    zip_path = Path(zip_name)
    try:
        with os.fdopen(fd, "wb") as out:
            sha = _fetch(url, out, timeout, progress, f"download {name}.zip", allow_insecure_http)
        if sha != expected_sha256:
            source = "given" if given_sha256 else "pinned"
            raise DownloadError(
                f"{url}: SHA-256 {sha} does not match the {source} {expected_sha256}; the file was discarded"
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


def insecure_http_allowed_by_environment() -> bool:
    """``$MOVIELENS_ALLOW_INSECURE_HTTP`` is ``1`` (or true/yes)."""
    return os.environ.get(ALLOW_INSECURE_HTTP_ENV, "").strip().lower() in {"1", "true", "yes"}


def _check_scheme(url: str, allow_insecure_http: bool) -> None:
    """Refuse any URL but https (and http with the local-mirror setting): file://, ftp:// and the like
    would let a base URL from the environment read local files or reach other services."""
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme == "https" or (scheme == "http" and allow_insecure_http):
        return
    hint = f"; for a local http:// mirror set {ALLOW_INSECURE_HTTP_ENV}=1 or pass --allow-insecure-http" if scheme == "http" else ""
    raise DownloadError(f"{url}: only https:// URLs are fetched, not {scheme or 'a relative'} URLs{hint}")


class _SchemeCheckingRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to a URL that :func:`_check_scheme` accepts (no https -> http downgrade)."""

    def __init__(self, allow_insecure_http: bool) -> None:
        self.allow_insecure_http = allow_insecure_http

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001 - urllib's signature
        _check_scheme(newurl, self.allow_insecure_http)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _open(url: str, timeout: float, allow_insecure_http: bool):
    _check_scheme(url, allow_insecure_http)
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    opener = urllib.request.build_opener(_SchemeCheckingRedirects(allow_insecure_http))
    try:
        return opener.open(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"{url}: cannot connect ({reason})") from exc


def _fetch(
    url: str, out, timeout: float, progress: ProgressCallback | None, stage: str, allow_insecure_http: bool
) -> str:
    """Stream ``url`` into the binary file ``out``; returns its SHA-256 hex digest."""
    sha = hashlib.sha256()
    with _open(url, timeout, allow_insecure_http) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        done = 0
        report(progress, stage, 0, total, "bytes")
        try:
            while chunk := response.read(CHUNK_BYTES):
                out.write(chunk)
                sha.update(chunk)
                done += len(chunk)
                report(progress, stage, done, total, "bytes")
        except (TimeoutError, OSError) as exc:
            raise DownloadError(f"{url}: download interrupted after {done:,} bytes ({exc})") from exc
    if total is not None and done != total:
        raise DownloadError(f"{url}: got {done:,} of {total:,} bytes; the file was discarded")
    return sha.hexdigest()


def _member_path(work: Path, member: str, archive_name: str) -> Path:
    """Where ``member`` goes under ``work``; :class:`DownloadError` if it would land anywhere else."""
    parts = PurePosixPath(member.replace("\\", "/")).parts
    resolved = (work / member).resolve()
    if not parts or parts[0] == "/" or ".." in parts or not resolved.is_relative_to(work.resolve()):
        raise DownloadError(f"{archive_name}: refusing member {member!r} outside the folder; nothing was extracted")
    return resolved


def _extract_capped(archive: zipfile.ZipFile, work: Path, archive_name: str) -> None:
    """Extract every member into ``work``, refusing the archive (before writing, where the directory tells)
    past :data:`MAX_MEMBERS` members, past :data:`MAX_EXTRACTED_BYTES` in all, or with a member outside
    ``work``. The byte count is of what is actually written, not of the sizes the archive declares."""
    members = archive.infolist()
    if len(members) > MAX_MEMBERS:
        raise DownloadError(f"{archive_name}: the archive holds {len(members):,} members; at most {MAX_MEMBERS:,} are accepted")
    too_big = f"{archive_name}: the archive expands to more than {MAX_EXTRACTED_BYTES:,} bytes; refused (a damaged or hostile zip?)"
    if sum(member.file_size for member in members) > MAX_EXTRACTED_BYTES:
        raise DownloadError(too_big)
    paths = [_member_path(work, member.filename, archive_name) for member in members]
    written = 0
    for member, path in zip(members, paths, strict=True):
        if member.is_dir():
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(member) as source, open(path, "wb") as target:
            while chunk := source.read(CHUNK_BYTES):
                written += len(chunk)
                if written > MAX_EXTRACTED_BYTES:
                    raise DownloadError(too_big)
                target.write(chunk)


def _extract(zip_path: Path, dest_dir: Path, target: Path, *, force: bool) -> None:
    """Extract into a temporary folder in ``dest_dir``, then rename it to ``target`` in one step."""
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=dest_dir))
    try:
        try:
            with zipfile.ZipFile(zip_path) as archive:
                _extract_capped(archive, work, zip_path.name)
        except zipfile.BadZipFile as exc:
            raise DownloadError(f"the download is not a valid zip file ({exc})") from exc
        entries = [p for p in work.iterdir() if not p.name.startswith("__MACOSX")]
        # GroupLens zips hold one top folder (ml-latest-small/...); use its content.
        root = entries[0] if len(entries) == 1 and entries[0].is_dir() else work
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
