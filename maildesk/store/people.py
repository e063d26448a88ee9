"""Customers, contacts, and the counters that guard credentials and new tickets per sender."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from maildesk import clock
from maildesk.store.base import StoreBase, now
from maildesk.store.rows import Customer, from_row


class PeopleStore(StoreBase):
    """Who may write, and how often (writes: inside transaction())."""

    def customer(self, cid: str | None) -> Customer | None:
        if not cid:
            return None
        return from_row(Customer, self.one("SELECT * FROM customers WHERE id = ?", (cid,)))

    def customer_by_contract(self, address: str) -> Customer | None:
        row = self.one("SELECT * FROM customers WHERE contract_address = ?", (address.lower(),))
        return from_row(Customer, row)

    def customers_of(self, address: str) -> list[str]:
        """The customers an address is a contact of, oldest first."""
        rows = self.all("SELECT customer_id FROM contacts WHERE email = ? ORDER BY created", (address.lower(),))
        return [str(r["customer_id"]) for r in rows]

    def insert_customer(self, cid: str, name: str, language: str | None, password_hash: str | None,
                        plan: str | None = None) -> None:
        self.insert("customers", {"id": cid, "name": name, "language": language,
                                           "password_hash": password_hash, "plan": plan, "created": now()})

    def update_customer(self, cid: str, **changes: Any) -> None:
        self.update("customers", "id", cid, changes)

    def set_password_hash(self, cid: str, password_hash: str) -> None:
        self.update("customers", "id", cid, {"password_hash": password_hash})

    def put_contact(self, cid: str, email: str, added_by: str, admin: bool = False) -> None:
        self.upsert("contacts", {"customer_id": cid, "email": email, "admin": int(admin), "added_by": added_by,
                                    "created": now()}, pk=("customer_id", "email"))

    def delete_contact(self, cid: str, email: str) -> bool:
        """False when the address was no contact of the customer."""
        cur = self.db.execute("DELETE FROM contacts WHERE customer_id = ? AND email = ?", (cid, email))
        return cur.rowcount == 1

    def is_admin(self, cid: str, email: str) -> bool:
        row = self.one("SELECT admin FROM contacts WHERE customer_id = ? AND email = ?", (cid, email))
        return bool(row and row["admin"])

    # -- licences -------------------------------------------------------------------

    def add_licence(self, cid: str, product: str, number: str) -> None:
        self.insert("licences", {"number": number, "customer_id": cid, "product": product,
                                          "created": now()})

    def licence(self, number: str) -> tuple[str, str] | None:
        """(customer ID, product) of a licence number."""
        row = self.one("SELECT customer_id, product FROM licences WHERE number = ?", (number,))
        return (str(row["customer_id"]), str(row["product"])) if row else None

    def licences_of(self, cid: str) -> list[tuple[str, str]]:
        """[(product, number)] of a customer."""
        rows = self.all("SELECT product, number FROM licences WHERE customer_id = ? ORDER BY product, number", (cid,))
        return [(str(r["product"]), str(r["number"])) for r in rows]

    # -- credential failures and backoffs --------------------------------------------

    def blocked_until(self, scope: str, subject: str) -> tuple[datetime, int] | None:
        """(until, level) of the backoff on a sender or customer ID, live or not; None when there never was one."""
        row = self.one("SELECT until, level FROM auth_blocks WHERE scope = ? AND subject = ?", (scope, subject))
        return (datetime.fromisoformat(row["until"]), int(row["level"])) if row else None

    def count_auth_failure(self, scope: str, subject: str, since: datetime) -> int:
        """Record one failed check; returns the failures of (scope, subject) since `since`, this one included."""
        self.insert("auth_failures", {"scope": scope, "subject": subject, "at": now()})
        row = self.one("SELECT COUNT(*) AS n FROM auth_failures WHERE scope = ? AND subject = ? AND at >= ?",
                       (scope, subject, since.isoformat(timespec="seconds")))
        return int(row["n"]) if row else 0

    def recent_auth_failures(self, scope: str, subject: str, since: datetime) -> int:
        """Failures of (scope, subject) since `since`, without counting a new one."""
        row = self.one("SELECT COUNT(*) AS n FROM auth_failures WHERE scope = ? AND subject = ? AND at >= ?",
                       (scope, subject, since.isoformat(timespec="seconds")))
        return int(row["n"]) if row else 0

    def block(self, scope: str, subject: str, until: datetime, level: int) -> None:
        """Start (or lengthen) a backoff, and forget the failures that led to it."""
        self.upsert("auth_blocks", {"scope": scope, "subject": subject, "level": level,
                                       "until": until.isoformat(timespec="seconds")}, pk=("scope", "subject"))
        self.db.execute("DELETE FROM auth_failures WHERE scope = ? AND subject = ?", (scope, subject))

    # -- new-ticket token buckets ----------------------------------------------------

    def bucket(self, sender: str) -> tuple[float, datetime] | None:
        """(tokens, when last counted) of a sender's new-ticket bucket; None when it never opened one."""
        row = self.one("SELECT tokens, updated FROM buckets WHERE sender = ?", (sender,))
        return (float(row["tokens"]), datetime.fromisoformat(row["updated"])) if row else None

    def set_bucket(self, sender: str, tokens: float) -> None:
        self.upsert("buckets", {"sender": sender, "tokens": tokens,
                                   "updated": clock.now().isoformat(timespec="seconds")}, pk="sender")

    # -- consultants' presence ------------------------------------------------------

    def set_away(self, email: str, until: str | None) -> None:
        self.upsert("away", {"email": email.lower(), "until": until, "since": now()}, pk="email")

    def set_back(self, email: str) -> bool:
        return bool(self.db.execute("DELETE FROM away WHERE email = ?", (email.lower(),)).rowcount)

    def away(self, at: datetime) -> set[str]:
        """Consultants away at that moment (without an end, or until a later date)."""
        rows = self.all("SELECT email FROM away WHERE until IS NULL OR until > ?", (at.isoformat(timespec="seconds"),))
        return {str(r["email"]) for r in rows}
