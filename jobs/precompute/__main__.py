"""``python -m jobs.precompute``: see :mod:`jobs.precompute.cli`."""

import sys

from jobs.precompute.cli import main

sys.exit(main())
