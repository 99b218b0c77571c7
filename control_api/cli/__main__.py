"""``python -m control_api.cli``: the same commands as the ``dramaflow`` console script."""

import sys

from control_api.cli import app

sys.exit(app())  # pragma: no cover
