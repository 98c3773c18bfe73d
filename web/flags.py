"""Yes/no settings read from the environment, in the same words wherever they are read (web/settings.py, the job)."""

from __future__ import annotations

import os

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def env_flag(name: str, default: bool) -> bool:
    """The environment variable ``name`` as a yes/no (``default`` when unset or empty); ValueError for other words,
    so that a typo is refused rather than read as "off"."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise ValueError(f"{name} must be 1/0, true/false, yes/no or on/off; got {os.environ[name]!r}.")
