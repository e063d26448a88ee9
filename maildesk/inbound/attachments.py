"""Attachments made safe and useful: display names, real content types, winmail.dat unpacked.

A client's file name is display data only (never a path): it loses path
separators, control and bidi characters, leading dots and Windows device
names, and is shortened. The content type is sniffed from the bytes where
the client's claim is generic or contradicts them. Outlook's winmail.dat
(TNEF) is unpacked with tnefparse into the files it carries; the original is
kept too. Archives are stored as they are, never unpacked.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata

import filetype
from tnefparse.tnef import TNEF

from maildesk.models import Attachment

log = logging.getLogger("maildesk.parse")

# Bidi overrides and marks: they make "invoice\u202etxt.exe" look like "invoiceexe.txt".
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
# Windows opens a device, not a file, for these names, whatever follows the first dot and however the
# base ends in spaces or dots ("NUL .txt"), and it reads superscript digits as digits ("COM¹.txt").
_DEVICES = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9]|conin\$|conout\$|clock\$)$", re.I)
MAX_NAME = 120


def display_name(name: str, fallback: str = "attachment") -> str:
    """A file name fit for showing and for attaching to outgoing mail; never used as a path."""
    out = []
    for ch in name or "":
        # Cc controls, Cf format characters (zero-width, bidi, soft hyphen, BOM), surrogates, private use
        if ch in BIDI_CONTROLS or unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            continue
        out.append("_" if ch in '/\\:*?"<>|' else ch)
    clean = re.sub(r"\s+", " ", "".join(out)).strip().lstrip(". ").rstrip(". ")
    if not clean:
        return display_name(fallback) if fallback != "attachment" else fallback
    base = unicodedata.normalize("NFKC", clean.split(".", 1)[0]).rstrip(" .")
    if _DEVICES.match(base):
        clean = "_" + clean
    if len(clean) > MAX_NAME:
        stem, dot, ext = clean.rpartition(".")
        clean = (stem[: MAX_NAME - len(ext) - 1] + "." + ext) if dot and 0 < len(ext) <= 10 else clean[:MAX_NAME]
    return clean


def sniff(data: bytes, claimed: str) -> str:
    """The content type the bytes show, when the claim is generic or says something else."""
    kind = filetype.guess(data[:8192])
    if kind is None:
        return claimed or "application/octet-stream"
    if claimed in ("", "application/octet-stream", "application/x-download", "binary/octet-stream") \
            or claimed.split("/")[0] != kind.mime.split("/")[0]:
        return str(kind.mime)
    return claimed


def is_tnef(att: Attachment) -> bool:
    return att.content_type == "application/ms-tnef" or att.filename.lower() == "winmail.dat" \
        or att.data[:4] == b"\x78\x9f\x3e\x22"


def unpack_tnef(att: Attachment) -> list[Attachment]:
    """The files inside a winmail.dat; [] when it carries none or is broken."""
    try:
        tnef = TNEF(att.data, do_checksum=False)
    except Exception as exc:  # tnefparse raises many kinds on broken input; the original stays attached
        log.info("winmail.dat not readable (%s); kept as it is", exc.__class__.__name__)
        return []
    out = []
    for i, a in enumerate(tnef.attachments, 1):
        data = a.data if isinstance(a.data, bytes) else bytes(a.data or b"")
        try:
            name = a.long_filename() or a.name
        except Exception:  # a name in an unexpected codepage must not lose the file
            name = ""
        name = name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
        out.append(make(data, name, "application/octet-stream", f"winmail-{i}"))
    return out


def make(data: bytes, name: str, claimed: str, fallback: str) -> Attachment:
    """An Attachment with a clean display name, a sniffed type and its sha256."""
    return Attachment(display_name(name, fallback), sniff(data, claimed), data, hashlib.sha256(data).hexdigest())
