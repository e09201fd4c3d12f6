"""`python -m panic_button` is the `panic-button` command."""

import sys

from panic_button.cli import main

sys.exit(main())
