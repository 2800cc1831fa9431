"""`python -m howold`: the same command line as `howold`."""

import sys

from howold.cli import main

sys.exit(main())
