"""Production settings refuse to start without real configuration."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _clean_env() -> dict[str, str]:
    cleared = {"SECRET_KEY", "SECRET_KEY_FALLBACKS", "DATABASE_URL", "REDIS_URL", "APP_ENV"}
    return {k: v for k, v in os.environ.items() if k not in cleared}


def _import_settings(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import web.settings"], cwd=REPO, env=_clean_env() | env, capture_output=True, text=True
    )


GOOD = {
    "APP_ENV": "production",
    "SECRET_KEY": "test-only-" + secrets.token_urlsafe(40),
    "DATABASE_URL": "postgres://u:p@db:5432/movielens",
    "REDIS_URL": "redis://redis:6379/0",
}


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY is required"),
        ({"SECRET_KEY": "dev-only-insecure-secret-key-do-not-use-in-production"}, "real secret"),
        ({"SECRET_KEY": "short"}, "real secret"),
        # Long enough, and guessed at once: Django's own check (--deploy, security.W009) asks for 5 different characters.
        ({"SECRET_KEY": "x" * 50}, "real secret"),
        # What django-admin startproject writes, published with every new project.
        ({"SECRET_KEY": "django-insecure-" + "k" * 16 + "3#qe9)u!a_l^w" * 3}, "real secret"),
        # An earlier key still verifies signed cookies, session hashes and stored models (web.security.verified_model):
        # the published development key or a guessable one there forged them as well as it would as SECRET_KEY.
        ({"SECRET_KEY_FALLBACKS": "dev-only-insecure-secret-key-do-not-use-in-production"}, "SECRET_KEY_FALLBACKS"),
        ({"SECRET_KEY_FALLBACKS": f"earlier-{secrets.token_urlsafe(40)},short"}, "SECRET_KEY_FALLBACKS"),
        ({"DATABASE_URL": ""}, "DATABASE_URL is required"),
        ({"REDIS_URL": ""}, "REDIS_URL is required"),
        ({"DATABASE_URL": "sqlite:///db.sqlite3"}, "must be a PostgreSQL URL"),
        ({"APP_ENV": "staging"}, "APP_ENV must be"),
        ({"DEBUG": "maybe"}, "DEBUG must be"),
    ],
)
def test_production_settings_refuse_bad_configuration(missing, message):
    """Each missing or unsafe production setting stops the import with a message that says how to fix it."""
    result = _import_settings(GOOD | missing)
    assert result.returncode != 0
    assert message in result.stderr
    assert GOOD["SECRET_KEY"] not in result.stderr, "the message never shows a key"


def test_production_settings_start_with_real_configuration():
    """With every required variable set, production settings import without touching any server."""
    result = _import_settings(GOOD)
    assert result.returncode == 0, result.stderr


OLD, OLDER = f"old-{secrets.token_urlsafe(40)}", f"older-{secrets.token_urlsafe(40)}"


def test_earlier_secret_keys_are_read_as_fallbacks():
    """SECRET_KEY_FALLBACKS=a,b keeps both earlier keys (sessions and stored models signed with them still load)."""
    probe = "import web.settings as s; print(s.SECRET_KEY_FALLBACKS)"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, env=_clean_env() | GOOD | {"SECRET_KEY_FALLBACKS": f"{OLD}, {OLDER},"},
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == repr([OLD, OLDER])


def test_database_role_must_be_owner_or_app():
    """A misspelt DATABASE_ROLE stops the start with the allowed values, before any server is touched."""
    result = _import_settings({"DATABASE_ROLE": "superuser"})
    assert result.returncode != 0
    assert "DATABASE_ROLE must be one of app, owner; got 'superuser'" in result.stderr


@pytest.mark.parametrize(("role", "user"), [("owner", "movielens_owner"), ("app", "movielens_app"), ("", "movielens_owner")])
def test_embedded_database_url_is_the_chosen_roles(role, user):
    """Locally the embedded default hands out the role DATABASE_ROLE names; unset, the owner (migrate, loader, job, tests)."""
    probe = "import web.settings as s; print(s.DATABASES['default']['USER'])"
    env = {k: v for k, v in _clean_env().items() if k != "DATABASE_ROLE"} | ({"DATABASE_ROLE": role} if role else {})
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == user
