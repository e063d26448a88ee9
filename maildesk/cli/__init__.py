"""The operator's side: the `maildesk` command, its views, `check` and `fsck`."""

from maildesk.cli.main import main

__all__ = ["main"]
