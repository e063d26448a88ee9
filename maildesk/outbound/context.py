"""What templates see of a ticket: one function, so `ticket.X` means the same in every template."""

from __future__ import annotations

from typing import Any

from maildesk.config import Config
from maildesk.decide.route import hours_of, local_time, ticket_plan
from maildesk.decide.thread import format_tag
from maildesk.store import Store
from maildesk.store.rows import Ticket


def ticket_context(cfg: Config, store: Store, ticket: Ticket) -> dict[str, Any]:
    """The ticket as templates see it (the keys of samples.FACTS).

    `first_response_due` is the response target, in the support hours' time
    zone; `due` is only the deadline a consultant agreed with #due ('' until then).
    """
    customer = store.customer(ticket.customer_id)
    hours = hours_of(cfg, ticket_plan(cfg, ticket))
    return {
        "number": ticket.number, "tag": format_tag(cfg, ticket.number), "subject": ticket.subject,
        "status": ticket.status.value, "queue": ticket.queue,
        "position": store.queue_position(ticket.queue, ticket.number, ticket.priority), "priority": ticket.priority,
        "requester": ticket.requester, "assignee": ticket.assignee or "", "price": ticket.price or "",
        "due": ticket.due or "", "first_response_due": local_time(ticket.first_response_due, hours),
        "resolution_due": local_time(ticket.resolution_due, hours), "plan": ticket_plan(cfg, ticket).name,
        "parent": ticket.parent, "customer_id": customer.id if customer else "",
        "customer_name": customer.name if customer else "",
    }
