"""``python -m toggl_prefs``: the command line."""

import sys

from .cli import main

sys.exit(main())
