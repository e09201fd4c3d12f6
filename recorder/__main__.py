"""`python -m recorder` is the `recorder` command."""

import sys

from recorder.cli import main

sys.exit(main())
