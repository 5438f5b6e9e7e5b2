"""``python -m gapwatch`` = the ``gapwatch`` command."""

import sys

from .cli import main

sys.exit(main())
