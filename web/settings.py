"""Django settings: one module, driven by environment variables.

``APP_ENV`` picks the mode:

* ``local`` (the default, ``make demo`` and the tests): ``DEBUG`` on, a clearly
  marked development ``SECRET_KEY``, and when ``DATABASE_URL`` / ``REDIS_URL``
  are unset, embedded real PostgreSQL and Redis servers under ``.local/``
  (see :mod:`web.embedded`).
* ``production`` (the container images): ``SECRET_KEY``, ``DATABASE_URL`` and
  ``REDIS_URL`` are required and the process refuses to start without them;
  the web server (``web.wsgi``) also refuses to start without ``ALLOWED_HOSTS``.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from web.flags import env_flag
from web.observability.logging import FORMATTERS as LOG_FORMATTERS

BASE_DIR = Path(__file__).resolve().parent.parent

APP_ENV = os.environ.get("APP_ENV", "local").strip().lower()
if APP_ENV not in {"local", "production"}:
    raise ImproperlyConfigured(f"APP_ENV must be 'local' or 'production'; got {APP_ENV!r}.")
PRODUCTION = APP_ENV == "production"

DEVELOPMENT_SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production"  # noqa: S105 - marked default


def _env_bool(name: str, default: bool) -> bool:
    try:
        return env_flag(name, default)
    except ValueError as exc:
        raise ImproperlyConfigured(str(exc)) from None


def _env_networks(name: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Comma-separated networks (``10.0.0.0/8``) or single addresses; a typo stops the start, never trusts nobody silently."""
    networks = []
    for part in os.environ.get(name, "").split(","):
        if part.strip():
            try:
                networks.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError as exc:
                raise ImproperlyConfigured(
                    f"{name} must be comma-separated networks or addresses, e.g. 10.0.0.0/8,fd00::/8; got {part.strip()!r} ({exc})."
                ) from exc
    return tuple(networks)


def _required(name: str, hint: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ImproperlyConfigured(f"{name} is required when APP_ENV=production. {hint}")
    return value


GENERATE_SECRET_KEY = "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"


def _is_guessable(key: str) -> bool:
    """A key someone else may know or guess: ours for development, the one ``startproject`` writes, a short one, or one
    of fewer than 5 different characters (Django's ``check --deploy`` asks the same, security.W009)."""
    return key == DEVELOPMENT_SECRET_KEY or key.startswith("django-insecure-") or len(key) < 32 or len(set(key)) < 5


if PRODUCTION:
    SECRET_KEY = _required("SECRET_KEY", GENERATE_SECRET_KEY)
    if _is_guessable(SECRET_KEY):
        raise ImproperlyConfigured(
            f"SECRET_KEY must be a real secret of at least 32 characters in production. {GENERATE_SECRET_KEY}")
else:
    SECRET_KEY = os.environ.get("SECRET_KEY") or DEVELOPMENT_SECRET_KEY

SECRET_KEY_FALLBACKS = [key.strip() for key in os.environ.get("SECRET_KEY_FALLBACKS", "").split(",") if key.strip()]
"""Earlier keys, still accepted for sessions and stored models' signatures while a new SECRET_KEY takes over."""
if PRODUCTION and any(_is_guessable(key) for key in SECRET_KEY_FALLBACKS):
    # An earlier key verifies as much as SECRET_KEY does (signed cookies, session hashes, stored models): a guessable
    # one would let anyone forge them. The message names no key.
    raise ImproperlyConfigured(
        "SECRET_KEY_FALLBACKS holds a key that is not a real secret (the development key, a django-insecure- key, fewer "
        "than 32 characters or fewer than 5 different ones): list only earlier production keys, comma-separated.")

DEBUG = _env_bool("DEBUG", default=not PRODUCTION)
DEBUG_ERROR_PAGES = _env_bool("DEBUG_ERROR_PAGES", default=False)
"""With DEBUG on: Django's debug pages (traceback, URL patterns) instead of the site's 404 and 500 (web/errors.py)."""
# The loopback default is local only; in production web.wsgi refuses to serve without ALLOWED_HOSTS
# (the job and collectstatic load these settings too but serve nothing, so they need not set it).
ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("ALLOWED_HOSTS", "" if PRODUCTION else "localhost,127.0.0.1,[::1]").split(",") if h.strip()
]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]
# A form from an out-of-date page gets the site's 403 in a member's words, not Django's "CSRF verification failed".
CSRF_FAILURE_VIEW = "web.errors.csrf_failure"

# -- Services: PostgreSQL and Redis ------------------------------------------
EMBEDDED_DATA_DIR = Path(os.environ.get("EMBEDDED_DATA_DIR", BASE_DIR / ".local" / "services"))

if PRODUCTION:
    DATABASE_URL = _required("DATABASE_URL", "Example: postgres://user:password@postgres:5432/movielens")
    REDIS_URL = _required("REDIS_URL", "Example: redis://redis:6379/0")
else:
    from web import embedded
    from web.dbroles import roles

    # Which of the two roles (web/dbroles/roles.py) this process connects as when the embedded default hands out
    # the URL: the web server (web.wsgi) and `manage.py runserver|rqworker` set `app`; migrate, the loader, the
    # precompute job and the tests are the owner. A set DATABASE_URL names its role itself.
    DATABASE_ROLE = os.environ.get("DATABASE_ROLE", "owner").strip().lower()
    if DATABASE_ROLE not in roles.ROLES:
        raise ImproperlyConfigured(f"DATABASE_ROLE must be one of {', '.join(sorted(roles.ROLES))}; got {DATABASE_ROLE!r}.")
    DATABASE_URL = os.environ.get("DATABASE_URL") or embedded.postgres_url(
        EMBEDDED_DATA_DIR, os.environ.get("EMBEDDED_DATABASE", embedded.DEFAULT_DATABASE), roles.ROLES[DATABASE_ROLE]
    )
    REDIS_URL = os.environ.get("REDIS_URL") or embedded.redis_url(EMBEDDED_DATA_DIR)

if not DATABASE_URL.startswith(("postgres://", "postgresql://")):
    raise ImproperlyConfigured(
        f"DATABASE_URL must be a PostgreSQL URL (postgres://user:password@host:5432/dbname); got scheme "
        f"{DATABASE_URL.split(':', 1)[0]!r}. The score tables use PostgreSQL partitions and COPY."
    )
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
DATABASE_CONNECT_TIMEOUT = int(os.environ.get("DATABASE_CONNECT_TIMEOUT", "2"))
"""Seconds libpq waits to open a connection (libpq's smallest, 2, is the default). It bounds only the opening, so the
long work of the owner role (migrate, the loader, the job's COPY and index builds) is not limited by it; a stalled
server accepts the TCP connection and then never answers it (docs/decisions.md, "Stalled dependencies")."""
if DATABASE_CONNECT_TIMEOUT < 2:
    raise ImproperlyConfigured(f"DATABASE_CONNECT_TIMEOUT must be 2 seconds or more (libpq's least); got {DATABASE_CONNECT_TIMEOUT}.")
DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", DATABASE_CONNECT_TIMEOUT)
DATABASE_REQUEST_TIMEOUT = float(os.environ.get("DATABASE_REQUEST_TIMEOUT", "15"))
"""Seconds one web request may wait on PostgreSQL in all before its connection is cut and it answers 503
(web/dbdeadline.py, web/middleware.py): a stalled server never answers, and the server's own timeouts only work
while it runs. /readyz and /metrics have shorter ones of their own, under the probe's and the scrape's timeouts."""
if DATABASE_REQUEST_TIMEOUT <= 0:
    raise ImproperlyConfigured(f"DATABASE_REQUEST_TIMEOUT must be a positive number of seconds; got {DATABASE_REQUEST_TIMEOUT}.")

PROGRESS_STALL_SECONDS = float(os.environ.get("PROGRESS_STALL_SECONDS", "30"))
"""A running precompute whose heartbeat is older than this many seconds is shown as stalled."""

RQ_QUEUE = os.environ.get("RQ_QUEUE", "default")
"""Name of the RQ queue that the web app fills and the worker empties."""

PRECOMPUTE_LAUNCHER = os.environ.get("PRECOMPUTE_LAUNCHER", "rq").strip().lower()
"""How the progress page's "start" runs the job: ``rq`` (the worker runs ``python -m jobs.precompute``)
or ``kubernetes`` (the web pod creates a Job from the CronJob ``precompute``; see web/progress/kubernetes.py)."""
if PRECOMPUTE_LAUNCHER not in {"rq", "kubernetes"}:
    raise ImproperlyConfigured(f"PRECOMPUTE_LAUNCHER must be 'rq' or 'kubernetes'; got {PRECOMPUTE_LAUNCHER!r}.")
PRECOMPUTE_JOB_TIMEOUT = int(os.environ.get("PRECOMPUTE_JOB_TIMEOUT", str(6 * 3600)))
"""Seconds the RQ worker lets one precompute run before stopping it (RQ's default of 180 s is far too short)."""
RETRAIN_THRESHOLD = int(os.environ.get("RETRAIN_THRESHOLD", "0"))
"""Start a run (the serving run's algorithm and parameters) once this many ratings and events arrived since the
serving run's data; 0 = off. The worker checks after each write that stores some (web/runs/retrain.py)."""
if RETRAIN_THRESHOLD < 0:
    raise ImproperlyConfigured(f"RETRAIN_THRESHOLD must be 0 (off) or a positive count; got {RETRAIN_THRESHOLD}.")
PRECOMPUTE_SCHEDULE = (
    os.environ.get("PRECOMPUTE_SCHEDULE", "").strip()
    if os.environ.get("PRECOMPUTE_SCHEDULE_SUSPEND", "true").strip().lower() in {"false", "0", "no"} else ""
)
"""The precompute CronJob's schedule when it runs on it (k8s/app/configmap.yaml: PRECOMPUTE_SCHEDULE, and
PRECOMPUTE_SCHEDULE_SUSPEND "false"); empty when it is off. The overlays write the same two values into the
CronJob; the app only shows the schedule on the progress page."""
KUBERNETES_SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
"""Where the ``kubernetes`` launcher reads the pod's API token, cluster CA and namespace (the standard in-cluster path)."""

# -- Django -------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "web.accounts",
    "web.recommender",
    "web.progress",
    "web.dbroles",
]

MIDDLEWARE = [
    # Every request's database waits end after DATABASE_REQUEST_TIMEOUT (a stalled PostgreSQL answers nothing).
    "web.middleware.DatabaseDeadlineMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "web.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # An anonymous read of a MovieLens user's list answered from its ETag (304 or the stored body) before the
    # session, CSRF, auth and DRF layers, which decide nothing for it (web/recommender/middleware.py).
    "web.recommender.middleware.AnonymousPublicListMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # The site's own 404 and 500 pages (JSON under /api/) with DEBUG on as well (web/errors.py).
    "web.errors.ErrorPagesMiddleware",
    # PostgreSQL unreachable (stopped, restarting): a clear 503 with Retry-After, not a 500 traceback.
    "web.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "web.urls"
WSGI_APPLICATION = "web.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "web" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# collectstatic fills STATIC_ROOT in the image; locally WhiteNoise serves straight from the apps.
STATIC_ROOT = BASE_DIR / "staticfiles" if PRODUCTION else None
STATICFILES_DIRS = [BASE_DIR / "web" / "static"]
WHITENOISE_USE_FINDERS = not PRODUCTION  # locally, static files are served from the apps even with DEBUG=0
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "me"  # a member signs in for their recommendations (issue #19, item 11)
LOGOUT_REDIRECT_URL = "home"

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["web.restapi.JSONParser"],  # DRF's, with deep nesting a 400 too
    "EXCEPTION_HANDLER": "web.recommender.api.errors.json_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# The OpenAPI document at /api/schema/ and Swagger UI at /api/docs/; the UI's
# JavaScript comes from drf-spectacular-sidecar's static files, never a CDN.
SPECTACULAR_SETTINGS = {
    "TITLE": "MovieLens recommender API",
    "DESCRIPTION": "Recommendations from precomputed per-user scores, ratings, the movie catalogue and precompute runs.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# -- Security (docs/reliability.md, "Security") -----------------------------------
# Production is served over HTTPS by an ingress that terminates TLS and sets X-Forwarded-Proto.
# HTTPS=0 (which the dev overlay sets for plain-HTTP port-forwarding; the older SECURE_COOKIES=0
# does the same) turns off the redirect, HSTS and secure cookies together. The kubelet's probes
# speak plain HTTP to the pod, so /healthz and /readyz are never redirected.
SECURE_CONTENT_TYPE_NOSNIFF = True
if PRODUCTION:
    HTTPS = _env_bool("HTTPS", default=_env_bool("SECURE_COOKIES", default=True))
    if HTTPS:
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
        SECURE_SSL_REDIRECT = True
        SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
        SECURE_HSTS_SECONDS = int(os.environ.get("HSTS_SECONDS", str(365 * 24 * 3600)))
        SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("HSTS_INCLUDE_SUBDOMAINS", default=True)
        SECURE_HSTS_PRELOAD = _env_bool("HSTS_PRELOAD", default=True)
    SESSION_COOKIE_SECURE = _env_bool("SECURE_COOKIES", default=HTTPS)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE


# Sign-in and sign-up rate limits (web.security), counted in Redis; over the limit is a 429.
if os.environ.get("TRUSTED_PROXY_HOPS", "").strip() not in {"", "0"}:
    # Counting hops trusted X-Forwarded-For from whoever connected, so a client with no proxy in front
    # chose its own address for the per-address limits. Refused rather than ignored: ignoring it would
    # count every client behind the ingress as the ingress, one shared address for the whole site.
    raise ImproperlyConfigured(
        "TRUSTED_PROXY_HOPS was replaced by TRUSTED_PROXIES: the comma-separated networks of the proxies in front "
        "of the app (the ingress controller's pod network, e.g. TRUSTED_PROXIES=10.0.0.0/8). X-Forwarded-For is "
        "believed only from a peer in them. Unset TRUSTED_PROXY_HOPS."
    )
TRUSTED_PROXIES = _env_networks("TRUSTED_PROXIES")
"""Networks of the proxies in front of the app (the ingress); X-Forwarded-For is read only from a peer in them. None by default."""
# Failed sign-ins per LOGIN_FAILURE_WINDOW: per user name from one address; per address over all names; and per
# user name over all addresses, which refuses only browsers that never signed in as that name (no lock-out).
LOGIN_FAILURES_PER_USERNAME_AND_IP = int(os.environ.get("LOGIN_FAILURES_PER_USERNAME_AND_IP", "5"))
LOGIN_FAILURES_PER_IP = int(os.environ.get("LOGIN_FAILURES_PER_IP", "20"))
LOGIN_FAILURES_PER_USERNAME = int(os.environ.get("LOGIN_FAILURES_PER_USERNAME", "50"))
LOGIN_FAILURE_WINDOW = int(os.environ.get("LOGIN_FAILURE_WINDOW", "900"))
SIGNUPS_PER_IP = int(os.environ.get("SIGNUPS_PER_IP", "10"))
SIGNUP_WINDOW = int(os.environ.get("SIGNUP_WINDOW", "3600"))
# Rating writes (API POST/PUT/DELETE and the star form, together) per account per RATING_WRITE_WINDOW seconds:
# 120 a minute is two a second for a whole minute, which no person clicking stars keeps up; a service account
# (recommender.write_any_user: a browsing service writing for all its users through one token) gets 3000 (50 a second).
RATING_WRITES_PER_ACCOUNT = int(os.environ.get("RATING_WRITES_PER_ACCOUNT", "120"))
RATING_WRITES_PER_SERVICE_ACCOUNT = int(os.environ.get("RATING_WRITES_PER_SERVICE_ACCOUNT", "3000"))
if "RATING_WRITES_PER_STAFF_ACCOUNT" in os.environ:
    # Refused rather than ignored: the limit it set would silently fall back to the default.
    raise ImproperlyConfigured(
        "RATING_WRITES_PER_STAFF_ACCOUNT was renamed RATING_WRITES_PER_SERVICE_ACCOUNT (staff no longer means service: "
        "the group 'services' does). Rename it in the environment."
    )
RATING_WRITE_WINDOW = int(os.environ.get("RATING_WRITE_WINDOW", "60"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": LOG_FORMATTERS["plain"]},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "pgserver": {"level": "WARNING"}},
}

# -- Observability (docs/operations.md) -------------------------------------------
# The first middleware: every request gets an id (X-Request-ID), a line in the log and its metrics.
MIDDLEWARE.insert(0, "web.observability.middleware.RequestObservabilityMiddleware")
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain").strip().lower()
"""``plain`` (lines for people) or ``json`` (one JSON object a line, for log collectors), in every process."""
if LOG_FORMAT not in LOG_FORMATTERS:
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'plain' or 'json'; got {LOG_FORMAT!r}.")
LOGGING = {
    **LOGGING,
    "filters": {**LOGGING.get("filters", {}), "request_id": {"()": "web.observability.logging.RequestIdFilter"}},
    "formatters": LOG_FORMATTERS,
    "handlers": {
        **LOGGING["handlers"],
        "console": {**LOGGING["handlers"]["console"], "formatter": LOG_FORMAT, "filters": ["request_id"]},
    },
}
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "").strip()
"""A bearer token that may read /metrics from anywhere; unset = no token is accepted (web/observability/views.py)."""
if METRICS_TOKEN and len(METRICS_TOKEN) < 32:
    raise ImproperlyConfigured("METRICS_TOKEN must be at least 32 characters (python -c 'import secrets; print(secrets.token_hex(32))').")
METRICS_NETWORKS = _env_networks("METRICS_NETWORKS")
"""Networks whose direct (not proxied) requests may read /metrics without the token; unset = loopback only."""
if PRODUCTION and HTTPS:
    # Prometheus scrapes the pod's port over plain HTTP, like the kubelet's probes.
    SECURE_REDIRECT_EXEMPT = [*SECURE_REDIRECT_EXEMPT, r"^metrics$"]
if os.environ.get("POD_IP", "").strip():
    # Prometheus names the pod by its address in the Host header (the downward API's status.podIP, web-deployment.yaml).
    POD_IP = os.environ["POD_IP"].strip()
    ALLOWED_HOSTS = [*ALLOWED_HOSTS, f"[{POD_IP}]" if ":" in POD_IP else POD_IP]  # an IPv6 host is written in brackets
WORKER_METRICS_PORT = int(os.environ.get("WORKER_METRICS_PORT", "0"))
"""Port of the RQ worker's own /metrics (its job counts); 0 = none (web/observability/worker.py)."""

# -- The read API's answers (docs/decisions.md, "HTTP caching") --------------------
ANSWER_CACHE_BYTES = int(os.environ.get("ANSWER_CACHE_BYTES", str(32 * 1024 * 1024)))
"""Bytes of rendered answers each web process keeps by ETag (web/recommender/stored_answers.py); 0 = none."""
if ANSWER_CACHE_BYTES < 0:
    raise ImproperlyConfigured(f"ANSWER_CACHE_BYTES must be 0 (no stored answers) or more; got {ANSWER_CACHE_BYTES}.")
