"""The series that PromQL expressions (the alert rules, the dashboard's panels) select, for checking them against /metrics."""

from __future__ import annotations

import re
from dataclasses import dataclass

# A series name of the app, optionally followed by its label matchers. Every series of the app starts with the prefix,
# so a misspelt one is still found (and then missing from /metrics); functions, keywords and label names never are.
_SELECTOR = re.compile(r"\b(movielens_[a-zA-Z0-9_]+)\s*(\{[^}]*\})?")
_MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!=|!~|=)\s*"((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Selector:
    name: str
    matchers: tuple[tuple[str, str, str], ...]
    """(label, operator, value) of each matcher in the braces."""


def selectors(expr: str) -> list[Selector]:
    """Each series selector of ``expr`` that names a series of the app."""
    found = []
    for match in _SELECTOR.finditer(expr):
        braces = match.group(2) or ""
        found.append(Selector(match.group(1), tuple(_MATCHER.findall(braces))))
    return found
