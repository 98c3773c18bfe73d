"""What the Makefile's recipes inherit: never the order not to keep bytecode (the Makefile's comment says why)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_no_recipe_is_told_not_to_keep_bytecode(tmp_path):
    probe = tmp_path / "probe.mk"
    probe.write_text("probe:\n\t@env\n")
    result = subprocess.run(["make", "--no-print-directory", "-s", "-f", "Makefile", "-f", str(probe), "probe"],
                            cwd=REPO, env=os.environ | {"PYTHONDONTWRITEBYTECODE": "1", "PROBE_SEEN": "yes"},
                            capture_output=True, text=True, timeout=60, check=True)
    names = {line.split("=", 1)[0] for line in result.stdout.splitlines()}
    assert "PROBE_SEEN" in names, "the recipe printed its environment"
    assert "PYTHONDONTWRITEBYTECODE" not in names
