"""The settings of a test run: the project's one settings module (``web.settings``), on servers of the tests' own.

Before ``web.settings`` starts the embedded servers, ``EMBEDDED_DATA_DIR`` is
pointed at ``.local/test-services`` (unless ``EMBEDDED_DATA_DIR`` or
``DATABASE_URL`` is set), so every test and every process a test starts
(the web server, the worker, the job: they inherit the variable) uses PostgreSQL and
Redis apart from the demo's ``.local/services``. That PostgreSQL does not flush
to disk (:data:`web.embedded.DISPOSABLE_SETTINGS`): test databases are thrown
away, and waiting for the disk after the TRUNCATE that ends each transactional
test was most of the suite's time.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import global_settings

from web import embedded

# Each pytest-xdist worker (``make test`` runs two) gets servers of its own: nothing is shared between them, so the
# Redis database numbers, the scratch databases and the embedded servers' start-up need no coordination.
SHARED_TEST_DATA_DIR = Path(__file__).resolve().parent.parent / ".local" / "test-services"
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
TEST_DATA_DIR = SHARED_TEST_DATA_DIR.with_name(f"{SHARED_TEST_DATA_DIR.name}-{WORKER}") if WORKER else SHARED_TEST_DATA_DIR
# Chosen once per pytest process: the processes a test starts inherit the variable and use the same servers as
# they are. A worker inherits the shared folder from the pytest process that started it and takes its own.
CHOOSING = "EMBEDDED_DATA_DIR" not in os.environ or (WORKER and os.environ["EMBEDDED_DATA_DIR"] == str(SHARED_TEST_DATA_DIR))

if "DATABASE_URL" not in os.environ and CHOOSING:
    os.environ["EMBEDDED_DATA_DIR"] = str(TEST_DATA_DIR)
    embedded.make_disposable(TEST_DATA_DIR)

from web.settings import *  # noqa: E402,F403  (the one settings module; only the servers differ)

# Sign-ins and new members cost the production work factor of PBKDF2 otherwise: most of the account tests' time.
PASSWORD_HASHERS = ["tests.hashers.FewIterationsPBKDF2PasswordHasher", *global_settings.PASSWORD_HASHERS]
