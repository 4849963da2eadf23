"""`python -m app.cli ...`: the same as `troupe ...` without the window."""

import sys

from app.cli.main import main

sys.exit(main())
