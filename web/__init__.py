"""The Django project: settings, URLs, WSGI entry point and the two apps."""
