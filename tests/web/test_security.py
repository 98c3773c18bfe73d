"""Production settings pass Django's deploy checks, refuse to serve half-configured, and send the security headers.

Each case runs in a subprocess: the settings are read once per process, and these tests need
production mode while the rest of the suite runs locally.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "APP_ENV": "production",
    "SECRET_KEY": secrets.token_urlsafe(50),
    # Nothing connects to these: the checks and the requests below never touch a database or Redis.
    "DATABASE_URL": "postgres://movielens:not-used@db.invalid:5432/movielens",
    "REDIS_URL": "redis://redis.invalid:6379/0",
    "ALLOWED_HOSTS": "movies.example.org",
}
CLEARED = {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "APP_ENV", "ALLOWED_HOSTS", "DEBUG", "HTTPS", "SECURE_COOKIES"}


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    # DJANGO_* too: the browser tests' DJANGO_ALLOW_ASYNC_UNSAFE (set in this process) must not reach production.
    base = {k: v for k, v in os.environ.items() if k not in CLEARED and not k.startswith(("HSTS_", "DJANGO_"))}
    return subprocess.run(argv, cwd=REPO, env=base | env, capture_output=True, text=True, timeout=120)


def _python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return _run([sys.executable, "-c", code], env | {"DJANGO_SETTINGS_MODULE": "web.settings"})


def test_check_deploy_passes_with_production_settings():
    """`manage.py check --deploy --fail-level WARNING` exits 0 and reports no issue at all."""
    result = _run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout + result.stderr


def test_check_deploy_flags_plain_http_production():
    """With HTTPS=0 the same check warns about the redirect, HSTS and cookies, so the switch is not silent."""
    result = _run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], PRODUCTION | {"HTTPS": "0"})
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr + result.stdout


SETTINGS_PROBE = (
    "import django; django.setup(); from django.conf import settings as s; import json; "
    "print(json.dumps([s.DEBUG, s.ALLOWED_HOSTS, s.SECRET_KEY == s.DEVELOPMENT_SECRET_KEY]))"
)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"APP_ENV": "local"}, [True, ["localhost", "127.0.0.1", "[::1]"], True]),
        ({}, [False, ["movies.example.org"], False]),
        ({"DEBUG": "1"}, [True, ["movies.example.org"], False]),
        ({"ALLOWED_HOSTS": ""}, [False, [], False]),
    ],
    ids=["local-dev-defaults", "production", "production-debug-only-if-set", "production-no-local-hosts"],
)
def test_dev_defaults_apply_only_locally(env, expected):
    """DEBUG, the loopback hosts and the dev SECRET_KEY are local defaults; production has DEBUG off unless set."""
    base = PRODUCTION | env
    if env.get("APP_ENV") == "local":
        base = {k: v for k, v in base.items() if k not in {"SECRET_KEY", "ALLOWED_HOSTS"}}
    result = _python(SETTINGS_PROBE, base)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == expected


def test_production_web_server_refuses_to_start_without_allowed_hosts():
    """Importing web.wsgi (what each web server worker does) fails with a message naming ALLOWED_HOSTS when it is unset."""
    result = _python("import web.wsgi", {k: v for k, v in PRODUCTION.items() if k != "ALLOWED_HOSTS"})
    assert result.returncode != 0
    assert "ALLOWED_HOSTS is required" in result.stderr
    assert _python("import web.wsgi", PRODUCTION).returncode == 0


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({k: v for k, v in PRODUCTION.items() if k != "ALLOWED_HOSTS"}, "ALLOWED_HOSTS is required"),
        (PRODUCTION | {"RETRAIN_THRESHOLD": "-1"}, "RETRAIN_THRESHOLD must be 0 (off) or a positive count"),
    ],
    ids=["no-allowed-hosts", "bad-setting"],
)
def test_web_serve_stops_at_start_on_a_bad_configuration(env, message):
    """``python -m web.serve`` exits with the message instead of listening while its workers die and respawn for ever."""
    base = {k: v for k, v in os.environ.items() if k not in CLEARED and not k.startswith(("HSTS_", "DJANGO_"))}
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "web.serve", "--bind", f"127.0.0.1:{port}"], cwd=REPO, env=base | env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _, stderr = server.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)  # the server and the workers it keeps respawning
        server.communicate()
        pytest.fail("the web server kept running with a configuration its workers refuse")
    assert server.returncode != 0
    assert message in stderr
    assert "Traceback" not in stderr, "the message alone, not a traceback"
    assert "Listening at" not in stderr


def test_production_refuses_to_start_without_secret_key():
    """Without SECRET_KEY the production settings stop with a message that says how to make one."""
    result = _python("import django; django.setup()", {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"})
    assert result.returncode != 0 and "SECRET_KEY is required" in result.stderr


HEADERS_PROBE = """
import django, json
django.setup()
from django.conf import settings
from django.test import Client, override_settings
# The image's manifest storage needs collectstatic first; the headers do not depend on it.
override_settings(STORAGES=settings.STORAGES | {"staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}).enable()
client = Client(HTTP_HOST="movies.example.org")
out = {}
for name, path, secure in [("https_login", "/accounts/login/", True), ("http_login", "/accounts/login/", False),
                           ("http_healthz", "/healthz", False), ("https_healthz", "/healthz", True)]:
    r = client.get(path, secure=secure)
    cookie = r.cookies.get("csrftoken")
    out[name] = {"status": r.status_code, "location": r.get("Location"), "headers": dict(r.headers),
                 "csrf_cookie_secure": bool(cookie and cookie["secure"]), "csrf_cookie_httponly": bool(cookie and cookie["httponly"])}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def production_responses() -> dict:
    """Responses of the production settings to HTTPS and plain-HTTP requests, as the ingress and kubelet send them."""
    result = _python(HEADERS_PROBE, PRODUCTION)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_https_responses_carry_hsts_csp_and_secure_cookies(production_responses):
    """Over HTTPS: HSTS for a year with subdomains and preload, the CSP, nosniff, no framing, and Secure cookies."""
    login = production_responses["https_login"]
    assert login["status"] == 200
    headers = login["headers"]
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert login["csrf_cookie_secure"] is True


def test_production_redirects_plain_http_except_the_probes(production_responses):
    """Plain HTTP is sent to https://, but the kubelet's /healthz probe over HTTP is answered directly."""
    http_login = production_responses["http_login"]
    assert http_login["status"] == 301
    assert http_login["location"] == "https://movies.example.org/accounts/login/"
    assert production_responses["http_healthz"]["status"] == 200
    assert "Strict-Transport-Security" not in production_responses["http_healthz"]["headers"]


def test_the_content_security_policy_is_sent_locally_too(client, db):
    """The local site sends the same CSP, so a page that breaks it breaks in development and in the browser tests."""
    from web.security import CONTENT_SECURITY_POLICY

    response = client.get("/accounts/login/")
    assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY and "unsafe-eval" not in CONTENT_SECURITY_POLICY


def test_templates_have_no_inline_scripts_styles_or_handlers():
    """No template has an inline <script> body, <style>, style="" or on*="" handler, which the CSP would block."""
    import re

    offenders = []
    for path in sorted((REPO / "web").rglob("templates/**/*.html")):
        text = path.read_text(encoding="utf-8")
        for pattern in (r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", r"<style\b", r"\sstyle=\"", r"\son[a-z]+=\""):
            offenders += [f"{path.relative_to(REPO)}: {m.group(0)}" for m in re.finditer(pattern, text)]
    assert offenders == []
