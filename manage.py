#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""
import os
import sys

SERVING_COMMANDS = {"runserver", "rqworker"}
"""Commands that serve the site or run the worker: like the web server (web/wsgi.py) they connect as the data-only
role when the embedded default picks the URL. Every other command (migrate, load_movielens) is the owner's."""


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "web.settings")
    if len(sys.argv) > 1 and sys.argv[1] in SERVING_COMMANDS:
        os.environ.setdefault("DATABASE_ROLE", "app")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
