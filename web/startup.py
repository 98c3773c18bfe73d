"""What a serving process settles before it serves: its environment defaults and the checks of its settings.

Both the web server's parent (``python -m web.serve``, before any worker exists) and each worker
(``web.wsgi``) run these. In the parent they turn a bad setting into one message and a failed start:
granian respawns a worker that fails on import, again and again, while the server keeps listening, so
a check made only in the workers looked like a running server printing tracebacks.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def set_environment_defaults() -> None:
    """The settings module, and the data-only database role for the embedded default.

    The site reads and writes rows, never the schema: the embedded default hands it the data-only role
    (on the cluster ``DATABASE_URL`` already is that role's; web/dbroles/roles.py).
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "web.settings")
    os.environ.setdefault("DATABASE_ROLE", "app")


def require_allowed_hosts() -> None:
    """Load the settings and refuse to serve HTTP in production without ``ALLOWED_HOSTS``.

    The settings themselves only drop the local default, because the precompute job and the
    image build's collectstatic load them in production mode without serving any request.
    Loading them here raises their own ``ImproperlyConfigured`` for any other bad setting.
    """
    if settings.PRODUCTION and not settings.ALLOWED_HOSTS:
        raise ImproperlyConfigured(
            "ALLOWED_HOSTS is required when APP_ENV=production and the web server starts: the comma-separated "
            "host names the site is reached by, e.g. ALLOWED_HOSTS=movies.example.org,localhost"
        )
