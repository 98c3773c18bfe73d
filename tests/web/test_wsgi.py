"""What each web server worker gets from ``web.wsgi`` besides the application: every view imported, and start-up's objects frozen."""

from __future__ import annotations

import json

from tests.web.test_security import PRODUCTION, _python

PROBE = """
import gc, sys
import web.wsgi
print(gc.get_freeze_count(), "web.recommender.api.views" in sys.modules, "web.progress.views" in sys.modules)
"""


def test_importing_the_app_loads_the_views_and_freezes_what_start_up_made():
    """The garbage collector's full passes skip the ~100k objects of start-up (they took 30-60 ms a pass)."""
    result = _python(PROBE, PRODUCTION)

    assert result.returncode == 0, result.stderr
    frozen, api_views, progress_views = result.stdout.split()
    assert int(frozen) > 50_000
    assert (api_views, progress_views) == ("True", "True")


SEEN_BY_DJANGO = """
import io, json, os
import web.wsgi
seen = {}
web.wsgi.django_application = lambda environ, start_response: seen.update(environ) or []
# What granian hands the application: the process's environment, then the request's own keys over it.
environ = dict(os.environ) | {
    "REQUEST_METHOD": "GET", "PATH_INFO": "/healthz", "QUERY_STRING": "", "SERVER_NAME": "movies.example.org",
    "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "10.0.0.7", "HTTP_HOST": "movies.example.org",
    "wsgi.input": io.BytesIO(), "wsgi.url_scheme": "http",
}
web.wsgi.application(environ, lambda status, headers: None)
print(json.dumps({key: value for key, value in seen.items() if isinstance(value, str)}))
"""


def test_the_process_environment_never_reaches_request_meta():
    """granian copies os.environ into every request's environ: the secret key and the database URL stay out of META."""
    result = _python(SEEN_BY_DJANGO, PRODUCTION)

    assert result.returncode == 0, result.stderr
    meta = json.loads(result.stdout.splitlines()[-1])
    for secret in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL"):
        assert secret not in meta
    assert PRODUCTION["SECRET_KEY"] not in json.dumps(meta)
    assert meta["PATH_INFO"] == "/healthz" and meta["SERVER_NAME"] == "movies.example.org"
    assert meta["HTTP_HOST"] == "movies.example.org" and meta["REMOTE_ADDR"] == "10.0.0.7"
