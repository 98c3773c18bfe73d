"""WSGI entry point for gunicorn: ``gunicorn web.wsgi:application``."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "web.settings")

application = get_wsgi_application()

from web.security import require_allowed_hosts  # noqa: E402 - needs the settings loaded above

require_allowed_hosts()
