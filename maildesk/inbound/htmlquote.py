"""HTML replies read by their structure: quoted parts become `> ` lines for the text rules.

Clients mark their quoted history in the HTML, whatever the language of the
attribution: Gmail `div.gmail_quote`, Thunderbird `div.moz-cite-prefix` and
`blockquote type=cite`, Apple Mail `blockquote type=cite`, Yahoo
`div.yahoo_quoted`, Seznam.cz `div.quote`, ProtonMail `div.protonmail_quote`,
and any `blockquote` — these are quoted while they last. Outlook's
`div#divRplyFwdMsg`, `div#appendonsend`, `div#OLK_SRC_BODY_SECTION` and
Zimbra's `hr#zwchr` start a history that runs to the end of the mail. The
text of such a part is written with `> ` in front of each line (`>> ` when
nested), so the same line rules that read plain text mail also see inline
answers (text between two quotes: keep all) and text below a quote.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from maildesk.inbound.parse import VOID_TAGS, html_to_text

_CLASSES = {"gmail_quote", "moz-cite-prefix", "yahoo_quoted", "quote", "protonmail_quote"}
_TO_END_IDS = {"divrplyfwdmsg", "appendonsend", "appendonmail", "olk_src_body_section", "zwchr",
               "mail-editor-reference-message-container"}
OPEN, CLOSE = "\ue000", "\ue001"  # private-use sentinels: survive the HTML-to-text conversion as text


class _Marker(HTMLParser):
    """Copies the markup, with sentinels around quoted elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.out: list[str] = []
        self.stack: list[tuple[str, bool]] = []  # open elements: (tag, is a quote)
        self.to_end = False
        self.found = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "") for k, v in attrs}
        classes = set(values.get("class", "").lower().split())
        quote = tag == "blockquote" or bool(classes & _CLASSES)
        if values.get("id", "").lower() in _TO_END_IDS and not self.to_end:
            self.to_end = self.found = True
            self.out.append(OPEN)
        self.out.append(self.get_starttag_text() or "")
        if tag not in VOID_TAGS:
            self.stack.append((tag, quote))
            if quote:
                self.found = True
                self.out.append(OPEN)

    def handle_endtag(self, tag: str) -> None:
        while self.stack:  # close up to the matching element (HTML mail is often not well-formed)
            open_tag, quote = self.stack.pop()
            if quote:
                self.out.append(CLOSE)
            if open_tag == tag:
                break
        self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        self.out.append(data)

    def handle_entityref(self, name: str) -> None:
        self.out.append(f"&{name};")

    def handle_charref(self, name: str) -> None:
        self.out.append(f"&#{name};")

    def handle_comment(self, data: str) -> None:
        pass


def quoted_text(markup: str) -> str | None:
    """The HTML as text with its quoted parts as `> ` lines; None when it marks no quote."""
    marker = _Marker()
    try:
        marker.feed(markup)
        marker.close()
    except (AssertionError, ValueError):  # html.parser on hostile markup: the plain text rules decide
        return None
    if not marker.found:
        return None
    text = html_to_text("".join(marker.out))
    lines: list[str] = []
    depth, level = 0, None
    current: list[str] = []
    for ch in text + "\n":
        if ch == OPEN:
            depth += 1
        elif ch == CLOSE:
            depth = max(0, depth - 1)
        elif ch == "\n":
            content = "".join(current).strip()
            lines.append((">" * level + " " + content) if level and content else content)
            level, current = None, []
        else:
            if level is None and not ch.isspace():
                level = depth  # a line is as deep as the quote its first character stands in
            current.append(ch)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
