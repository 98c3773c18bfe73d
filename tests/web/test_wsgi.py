"""What each web server worker gets from ``web.wsgi`` besides the application: every view imported, and start-up's objects frozen."""

from __future__ import annotations

from tests.web.test_security import PRODUCTION, _python

PROBE = """
import gc, sys
import web.wsgi
print(gc.get_freeze_count(), "web.recommender.api.views" in sys.modules, "web.progress.views" in sys.modules)
"""


def test_importing_the_app_loads_the_views_and_freezes_what_start_up_made():
    """The garbage collector's full passes skip the ~100k objects of start-up (they took 30-60 ms a pass)."""
    result = _python(PROBE, PRODUCTION)

    assert result.returncode == 0, result.stderr
    frozen, api_views, progress_views = result.stdout.split()
    assert int(frozen) > 50_000
    assert (api_views, progress_views) == ("True", "True")
