"""`python -m acting_mirror` runs the command-line app."""

import sys

from acting_mirror.cli import main

sys.exit(main())
