"""A password hasher for the tests: Django's PBKDF2 with few iterations.

The hashes it makes carry the same ``pbkdf2_sha256`` name and their own
iteration count, so a server started by a test under ``web.settings`` (full
iterations) checks them as it checks any older hash. Creating a member or
signing in then costs milliseconds instead of the production work factor.
"""

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class FewIterationsPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    iterations = 1_000
