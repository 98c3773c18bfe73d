"""API tokens, stored as a SHA-256 of the key: the table holds nothing a client could send.

A key is 32 random bytes (``secrets.token_urlsafe``), shown once when issued.
Its digest is unsalted on purpose: a salt defends guessable secrets (passwords)
against precomputed tables, and a 256-bit random key is not guessable; an
unsalted digest is what lets a request find its token in one indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models

KEY_BYTES = 32
"""Random bytes in a new key (43 URL-safe characters)."""


def digest(key: str) -> str:
    """The hex SHA-256 of ``key``: what is stored, and what a request's key is looked up by."""
    return hashlib.sha256(key.encode()).hexdigest()


class ApiTokenManager(models.Manager):
    def issue(self, account, name: str = "") -> str:  # noqa: ANN001 - a django.contrib.auth user
        """A new key for ``account``; only its digest is stored, so the caller shows it once or loses it."""
        key = secrets.token_urlsafe(KEY_BYTES)
        self.create(user=account, digest=digest(key), name=name)
        return key

    def revoke_all(self, account) -> int:  # noqa: ANN001
        """Delete every token of ``account``; the number deleted. A revoked key is then an invalid token (401)."""
        deleted, _ = self.filter(user=account).delete()
        return deleted

    def revoke_older(self, account) -> int:  # noqa: ANN001
        """Delete every token of ``account`` but the newest (the one its client moved to); the number deleted."""
        newest = self.filter(user=account).order_by("-created", "-pk").values_list("pk", flat=True).first()
        deleted, _ = self.filter(user=account).exclude(pk=newest).delete()
        return deleted


class ApiToken(models.Model):
    """One API key of an account (an account may hold several while a client rotates)."""

    digest = models.CharField(max_length=64, unique=True, help_text="hex SHA-256 of the key; the key is never stored")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True, help_text="what the key is for, to tell keys apart")
    created = models.DateTimeField(auto_now_add=True)

    objects = ApiTokenManager()

    class Meta:
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"token of {self.user} created {self.created:%Y-%m-%d %H:%M}"
