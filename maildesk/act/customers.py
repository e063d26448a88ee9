"""Customers and their contacts: who may open tickets by writing from a known address.

Changed by the operator (CLI) or by a customer's admin contact by mail (act.access).
"""

from __future__ import annotations

import re

from argon2 import PasswordHasher

from maildesk.config import Config
from maildesk.errors import MaildeskError
from maildesk.store import Store

_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class InputError(MaildeskError):
    """An operator gave a value maildesk cannot use (bad e-mail address, unknown customer)."""


_QUOTED_ATOM = re.compile(r'^"([A-Za-z0-9!#$%&\'*+/=?^_`{|}~.-]+)"@')


def check_email(addr: str) -> str:
    """The address in the form maildesk compares: syntax checked (email-validator), all ASCII, lower case.

    `"alice"@acme.test` is alice@acme.test; a local part that really needs quotes is refused.
    """
    import email_validator  # here, not at the top: its import compiles ~40 ms of regexes at every start

    addr = _QUOTED_ATOM.sub(r"\1@", addr.strip())
    try:
        valid = email_validator.validate_email(addr, check_deliverability=False, test_environment=True,
                                               globally_deliverable=False, allow_quoted_local=False)
    except email_validator.EmailNotValidError as exc:
        raise InputError(f"not a plain e-mail address: {addr!r} ({exc})") from None
    if valid.ascii_email is None:  # inbound mail from it is refused (inbound.headers) and few servers take it
        raise InputError(f"not a plain e-mail address: {addr!r} (a local part in UTF-8 needs SMTPUTF8, "
                         "which maildesk does not use; a domain in UTF-8 is fine)")
    return valid.ascii_email.lower()


# An address an older release let in as a contact (a UTF-8 local part): still found, to be removed.
_LEGACY = re.compile(r'[^\s<>"@\x00-\x1f\x7f]+@[^\s<>"@\x00-\x1f\x7f]+')


def contact_key(addr: str) -> str:
    """The form a contact is looked up by to remove it: check_email's, or the lower case of an address that
    check_email refuses now but an older release stored (else check_email's error)."""
    try:
        return check_email(addr)
    except InputError:
        if _LEGACY.fullmatch(addr.strip()):
            return addr.strip().lower()
        raise


def add_customer(store: Store, cid: str, name: str, contacts: list[str], language: str | None,
                 password: str | None, plan: str | None = None, licences: list[str] | None = None) -> None:
    """Create a customer; a password is kept only as an argon2id hash."""
    if not _ID.match(cid):
        raise InputError(f"customer ID must be 1-64 letters, digits, '.', '_' or '-': {cid!r}")
    emails = [check_email(c) for c in contacts]
    if password is not None and len(password) < 8:
        raise InputError("a password needs at least 8 characters")
    held = [_licence(spec) for spec in licences or []]
    hashed = PasswordHasher().hash(password) if password else None
    with store.transaction():
        if store.customer(cid):
            raise InputError(f"customer {cid} exists already")
        store.insert_customer(cid, name, language, hashed, plan)
        for addr in emails:
            store.put_contact(cid, addr, "operator")
        for product, number in held:
            _add_licence(store, cid, product, number)
        store.event(None, None, "customer-added", {"customer": cid, "contacts": emails})


def edit_customer(store: Store, cfg: Config, cid: str, *, name: str | None = None, language: str | None = None,
                  plan: str | None = None, licences: list[str] | None = None,
                  contract_address: str | None = None) -> None:
    """Change a customer's name, language or plan ('' = helpdesk.default_plan), add licences; recorded as events."""
    if plan and plan not in cfg.plans:
        raise InputError(f"no plan {plan!r} in rules.toml (known: {', '.join(cfg.plans)})")
    changes = {k: v for k, v in (("name", name), ("language", language), ("plan", plan)) if v is not None}
    if contract_address is not None:
        changes["contract_address"] = check_email(contract_address) if contract_address else ""
    held = [_licence(spec) for spec in licences or []]
    with store.transaction():
        if not store.customer(cid):
            raise InputError(f"no customer {cid}")
        if changes:
            store.update_customer(cid, **{k: (v or None) if k in ("plan", "contract_address") else v
                                          for k, v in changes.items()})
            store.event(None, None, "customer-changed", {"customer": cid, **changes})
        for product, number in held:
            _add_licence(store, cid, product, number)


_LICENCE = re.compile(r"^([A-Za-z0-9_.-]{1,40})=([A-Za-z0-9][A-Za-z0-9/-]{2,39})$")


def _licence(spec: str) -> tuple[str, str]:
    """PRODUCT=NUMBER as given to --licence."""
    m = _LICENCE.match(spec.strip())
    if not m:
        raise InputError(f"--licence {spec!r}: write PRODUCT=NUMBER, e.g. PACKET=123456")
    return m.group(1), m.group(2)


def _add_licence(store: Store, cid: str, product: str, number: str) -> None:
    held = store.licence(number)
    if held is not None:
        raise InputError(f"licence {number} is held already ({held[1]} of customer {held[0]})")
    store.add_licence(cid, product, number)
    # the number itself stays out of the event log: it is redacted from mail like a password
    store.event(None, None, "licence-added", {"customer": cid, "product": product})


def add_contact(store: Store, cid: str, addr: str, added_by: str = "operator", admin: bool = False) -> None:
    """Allow `addr` to open and follow tickets for customer `cid`."""
    with store.transaction():
        add_contact_in_tx(store, cid, addr, added_by, admin)


def add_contact_in_tx(store: Store, cid: str, addr: str, added_by: str, admin: bool = False) -> None:
    """add_contact inside a transaction the caller holds."""
    addr = check_email(addr)
    if not store.customer(cid):
        raise InputError(f"no customer {cid}")
    store.put_contact(cid, addr, added_by, admin)
    store.event(None, None, "contact-added", {"customer": cid, "email": addr, "by": added_by, "admin": admin})


def set_password(store: Store, cid: str, password: str) -> None:
    """Replace a customer's password (kept only as an argon2id hash)."""
    if len(password) < 8:
        raise InputError("a password needs at least 8 characters")
    with store.transaction():
        if not store.customer(cid):
            raise InputError(f"no customer {cid}")
        store.set_password_hash(cid, PasswordHasher().hash(password))
        store.event(None, None, "password-changed", {"customer": cid})


def remove_contact(store: Store, cid: str, addr: str, removed_by: str = "operator") -> bool:
    """Withdraw an address's right to write for a customer; False when it was no contact."""
    addr = contact_key(addr)
    removed = store.delete_contact(cid, addr)
    if removed:
        store.event(None, None, "contact-removed", {"customer": cid, "email": addr, "by": removed_by})
    return removed
