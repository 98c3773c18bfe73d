"""The algorithms an operator can start, read from ``scoring.registry`` at run time (never a hard-coded list)."""

from __future__ import annotations

import inspect
from typing import Any

from scoring.registry import ALGORITHMS
from web.runs.spec import DEFAULT_POPULAR, DEFAULT_TOP_N, MAX_TOP_N


def catalogue() -> dict[str, dict[str, Any]]:
    """``{name: {"summary": first docstring line, "params": {name: default}}}`` for every registered algorithm."""
    result = {}
    for name, cls in sorted(ALGORITHMS.items()):
        signature = inspect.signature(cls.__init__)
        params = {
            p.name: (None if p.default is inspect.Parameter.empty else p.default)
            for p in signature.parameters.values()
            if p.kind == p.KEYWORD_ONLY
        }
        summary = (inspect.getdoc(cls) or "").split("\n", 1)[0].replace("``", "")
        result[name] = {"summary": summary, "params": params}
    return result


JOB_DEFAULTS = {"top_n": DEFAULT_TOP_N, "popular": DEFAULT_POPULAR, "max_top_n": MAX_TOP_N}
"""The job-level parameters the start form offers, with their defaults."""
