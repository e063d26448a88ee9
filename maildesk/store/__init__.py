"""The store: the one place that speaks SQL, handing out frozen rows; and the blob files beside it."""

from maildesk.store.db import Store, holds_data, now, open_store

__all__ = ["Store", "holds_data", "now", "open_store"]
