"""WSGI entry point of the web server (``python -m web.serve``, web/serve.py): every worker process imports it."""
import gc
import os
from collections.abc import Callable, Iterable

from django.core.wsgi import get_wsgi_application

from web import startup

startup.set_environment_defaults()
django_application = get_wsgi_application()

from django.urls import get_resolver  # noqa: E402 - needs the settings loaded above

startup.require_allowed_hosts()

# Import every view now, then take what start-up made (~120k objects: Django,
# DRF, the URLconf; all alive until the worker exits) out of the garbage
# collector's reach. A full collection used to scan them all in the middle
# of some request (docs/decisions.md, "API"); now it scans only what requests made since.
get_resolver().url_patterns
gc.collect()
gc.freeze()

REQUEST_KEYS = {"REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE", "CONTENT_LENGTH",
                "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "REMOTE_ADDR", "REMOTE_PORT", "REMOTE_HOST"}
INHERITED = frozenset(name for name in os.environ if name not in REQUEST_KEYS and not name.startswith("HTTP_"))
"""The process's environment variables, which granian copies into every request's WSGI environ."""


def application(environ: dict, start_response: Callable) -> Iterable[bytes]:
    """Django's application, given the request's environ without the process's environment variables.

    granian starts each request's environ from ``os.environ`` (CGI's habit, which PEP 3333 allows), so
    ``request.META`` would hold ``SECRET_KEY``, ``DATABASE_URL`` and every other setting of the container: one
    careless dump of ``META`` (an error report, a debug log) would publish them. The request's own keys stay.
    """
    for name in INHERITED:
        environ.pop(name, None)
    return django_application(environ, start_response)
