"""`python -m maildesk.cli`: the same as the `maildesk` command."""

import sys

from maildesk.cli.main import main

sys.exit(main())
