"""The import layers of .importlinter hold: layers point down, scoring has no Django, the web never imports jobs/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def test_import_contracts_are_kept():
    """lint-imports finds every contract of .importlinter kept (its report names the import that breaks one)."""
    result = subprocess.run(
        [str(LINT_IMPORTS), "--config", str(REPO / ".importlinter"), "--no-cache"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_a_broken_contract_is_reported(tmp_path):
    """The same run fails on a contract the code breaks, so the test above can fail."""
    config = tmp_path / "broken.ini"
    config.write_text(
        "[importlinter]\nroot_packages =\n    web\n    jobs\n\n"
        "[importlinter:contract:jobs-not-web]\nname = jobs never imports web (untrue on purpose)\n"
        "type = forbidden\nsource_modules =\n    jobs\nforbidden_modules =\n    web\n"
    )
    result = subprocess.run(
        [str(LINT_IMPORTS), "--config", str(config), "--no-cache"], cwd=REPO, capture_output=True, text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert "jobs is not allowed to import web" in result.stdout
