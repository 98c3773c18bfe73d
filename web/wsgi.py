"""WSGI entry point of the web server (``python -m web.serve``, web/serve.py): every worker process imports it."""
import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "web.settings")
# The site reads and writes rows, never the schema: the embedded default hands it the data-only role
# (on the cluster DATABASE_URL already is that role's; web/dbroles/roles.py).
os.environ.setdefault("DATABASE_ROLE", "app")

application = get_wsgi_application()

from django.urls import get_resolver  # noqa: E402 - needs the settings loaded above

from web.security import require_allowed_hosts  # noqa: E402

require_allowed_hosts()

# Import every view now, then take what start-up made (~120k objects: Django,
# DRF, the URLconf; all alive until the worker exits) out of the garbage
# collector's reach. A full collection used to scan them all in the middle
# of some request (docs/decisions.md, "API"); now it scans only what requests made since.
get_resolver().url_patterns
gc.collect()
gc.freeze()
