"""`python -m maildesk.config [--update README.md]`: print (or rewrite in place) the README table of every key."""

import sys
from pathlib import Path

from maildesk.config.model import markdown_table, update_readme

if sys.argv[1:2] == ["--update"]:
    update_readme(Path(sys.argv[2]))
else:
    print(markdown_table())
