"""What an action may use: the config, the store (inside the message's transaction) and the outbox."""

from __future__ import annotations

from dataclasses import dataclass

from maildesk.config import Config
from maildesk.outbound.outbox import Outbox
from maildesk.store import Store


@dataclass(frozen=True)
class Desk:
    """The helpdesk as the actions see it; one per process."""

    cfg: Config
    store: Store
    outbox: Outbox
