"""Large base64 bodies set aside before parsing: the email package holds a 20 MB mail ~9 times over.

Every run of base64 lines of at least MIN_RUN bytes is replaced by one token line before the mail
is parsed (a part's body is then a few bytes to the parser), and is decoded straight from the raw
bytes when an attachment's payload is exactly its token. A token anywhere else (base64 pasted
into a text body, a part mail-parser decodes itself) means the mail is parsed again whole: the
shortcut changes how much memory a mail takes, never what it says. The token carries a random
nonce, so no mail can name one.
"""

from __future__ import annotations

import binascii
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field

MIN_RUN = 1 << 20  # smaller bodies cost the parser less than this module saves
# One character class, not a repeated group of lines: re keeps state per repetition of a group,
# and over the 270,000 lines of a 20 MB attachment that was 74 MiB. A run stops at a blank line.
_RUN = re.compile(rb"(?m)^[A-Za-z0-9+/][A-Za-z0-9+/=\r\n]*\n")
_BLANK = re.compile(rb"\n\r?\n")


@dataclass
class SetAside:
    """A mail with its large base64 bodies replaced by tokens, and those bodies (views of the raw bytes)."""

    lean: bytes
    runs: dict[str, memoryview] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)

    def data(self, payload: object) -> bytes | None:
        """The decoded body a part's payload stands for (None: it is no token, decode it as usual)."""
        if not self.runs or not isinstance(payload, str):
            return None
        token = payload.strip()
        run = self.runs.get(token)
        if run is None:
            return None
        self.used.add(token)
        return binascii.a2b_base64(run)  # non-strict, as the email package decodes: line ends skipped

    def complete(self, texts: tuple[str, ...], files: tuple[bytes, ...]) -> bool:
        """Did every token reach an attachment, and none a text or another file (a forwarded mail's
        bytes)? Otherwise the mail is parsed whole."""
        return self.used == set(self.runs) and not any(t in x for t in self.runs for x in texts) \
            and not any(t.encode() in f for t in self.runs for f in files)


def set_aside(raw: bytes) -> SetAside:
    """Replace each base64 run of MIN_RUN bytes or more by a token line (nothing to do for smaller mails)."""
    if len(raw) < MIN_RUN:
        return SetAside(raw)
    nonce = secrets.token_hex(8)
    view = memoryview(raw)
    pieces: list[bytes | memoryview] = []
    runs: dict[str, memoryview] = {}
    last = 0
    for start, end in _runs(raw):
        if end - start < MIN_RUN:
            continue
        token = f"MaildeskAside{len(runs)}x{nonce}"
        runs[token] = view[start:end]
        pieces += [view[last:start], token.encode() + (b"\r\n" if raw[end - 2:end] == b"\r\n" else b"\n")]
        last = end
    if not runs:
        return SetAside(raw)
    pieces.append(view[last:])
    return SetAside(b"".join(pieces), runs)


def _runs(raw: bytes) -> Iterator[tuple[int, int]]:
    """(start, end) of each run of whole lines of base64 characters, none of them blank.

    The search runs between two blank lines at a time: the character class takes line ends too,
    and over a mail with a blank line after every line it would otherwise read on to the end of
    the mail from every line (quadratic; a test has such a mail).
    """
    pos, size = 0, len(raw)
    while pos < size:
        blank = _BLANK.search(raw, pos)
        stop = blank.start() + 1 if blank else size  # the line before a blank one keeps its line end
        for m in _RUN.finditer(raw, pos, stop):
            yield m.span()
        pos = blank.end() if blank else size
