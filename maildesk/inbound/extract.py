"""Reply extraction: the new text of a reply, without the history the reader already has.

Each line is marked, in the manner of talon's line classification: `e` empty,
`m` quoted (`>`), `s` the start of the quoted history (a splitter), `f` a
forward the writer meant to include, `t` the writer's text. Splitters are
recognised in the languages our customers and consultants write in (cs, sk,
en, de, fr, es, it, pt, nl, pl, da, sv, no, fi, ru, hu, ja, zh):

- attributions, on up to three lines: "On … wrote:", "Dne … napsal(a):",
  "W dniu … napisał(a):", "Il … ha scritto:", Android's "---- X wrote ----",
  and date-only ones ("2017-11-24 16:32 GMT+01:00 Name <addr>:") when quoted
  lines follow; one that starts in the middle of the last sentence is split off;
- Outlook-style header blocks (From/Sent/To/Subject in any of those
  languages, with `*bold*` and indentation), also after a line of underscores;
- separators such as "-----Original Message-----", "----- Původní e-mail -----".

The history is cut at the first splitter. Text *below* a `>` quote block
("Regards, Roman") is the writer's too and is kept; answers written between
quotes make the whole text go out unchanged (not confident). Losing the
writer's own words is worse than repeating a quote, so when in doubt, keep.

mail-parser-reply was the first choice (well kept, many languages), but its
splitting strips every line and cuts at words like "Děkuji," inside an
answer, and its header list misses Slovak, Finnish, Hungarian and split
attributions; talon needs lxml and an unmaintained ML stack. The patterns
here are our own, tested by the cases in tests/replies/.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from maildesk.inbound.htmlquote import quoted_text

_WROTE = (r"wrote|a\s+écrit|schrieb|schreef|geschreven|napisał(?:\(a\)|a)?|skrev|escribió|ha\s+scritto|"
          r"scrisse|escreveu|napsal(?:\(a\)|a)?|napísal(?:\(a\)|a)?|написал(?:\(а\)|а)?|kirjoitti|írta|"
          r"wrote\s+the\s+following|書きました|写道")
_ATTRIBUTION = re.compile(rf"^[-> ]*\S.{{0,400}}?(?:{_WROTE})\s*(?:\(.{{0,80}}\))?\s*[:：]?\s*-*\s*$", re.I | re.S)
_HU = re.compile(r"^.{0,200}\bezt\s+írta\s*\(időpont:.{0,80}\)\s*:\s*$", re.I | re.S)
_OPENERS = re.compile(r"^[-> ]*(?:(?:on|le|am|op|w\s+dniu|på|den|el|il|em|dne|dňa|в|во|at|от)\b|在|\d)", re.I)
# "Am … schrieb X:", "X kirjoitti 20.05.2019 kello 10:26:": the verb before the name or the date
_VERB_FIRST = re.compile(rf"^[-> ]*\S.{{2,200}}?\s(?:{_WROTE})\s.{{1,200}}[:：]\s*$", re.I | re.S)
_FULL_DATE = re.compile(r"\b\d{1,4}[./-]\s?\d{1,2}[./-]\s?\d{2,4}\b|\d{4}年")
_DATED = re.compile(r"^[-> ]*\d{1,4}[-./年]\s?\d{1,2}[-./月]\s?\d{1,4}.{0,200}[:：]\s*$", re.S)
_SEPARATOR = re.compile(
    r"^\s*[-_=]{2,}\s*(?:original\s+message|reply\s+message|oprindelig\s+meddelelse|ursprüngliche\s+nachricht|"
    r"původní\s+(?:zpráva|e-mail|email)|pôvodná\s+(?:správa|e-mail)|message\s+d'origine|mensaje\s+original|"
    r"messaggio\s+originale|mensagem\s+original|oorspronkelijk\s+bericht|originalmeddelande|"
    r"opprinnelig\s+melding|alkuperäinen\s+viesti|wiadomość\s+oryginalna|oryginalna\s+wiadomość|"
    r"исходное\s+сообщение|eredeti\s+üzenet|原始邮件|元のメッセージ)\s*[-_=]{2,}\s*$", re.I)
_FORWARD = re.compile(
    r"^\s*[-_=]{2,}\s*(?:forwarded\s+message|weitergeleitete\s+nachricht|message\s+transféré|přeposlaná\s+zpráva|"
    r"preposlaná\s+správa|mensaje\s+reenviado|messaggio\s+inoltrato|doorgestuurd\s+bericht|"
    r"videresendt\s+melding|vidarebefordrat\s+meddelande|przekazana\s+wiadomość|пересылаемое\s+сообщение|"
    r"begin\s+forwarded\s+message)\s*[-_=]*\s*:?\s*$", re.I)
_FROM = (r"from|von|de|van|fra|från|od|от|lähettäjä|feladó|da|dе|发件人|差出人|remitente|expéditeur")
_OTHER = (r"sent|date|to|cc|subject|gesendet|datum|an|betreff|envoyé(?:\s+le)?|à|objet|verzonden|aan|onderwerp|"
          r"sendt|til|emne|skickat|till|ämne|wysłano|wysłane|do|temat|data|odesláno|odeslané|komu|předmět|kopie|"
          r"odoslané|predmet|dátum|отправлено|кому|тема|дата|lähetetty|vastaanottaja|aihe|päivämäärä|elküldve|"
          r"címzett|tárgy|dátum|enviado(?:\s+el)?|para|asunto|fecha|inviato|oggetto|a|assunto|发送时间|收件人|主题|日期|"
          r"送信日時|宛先|件名")
_HEADER = re.compile(rf"^\s*[*>]?\s*\**\s*(?:(?P<from>{_FROM})|{_OTHER})\s*\**\s*[:：]", re.I)
_UNDERSCORES = re.compile(r"^\s*_{10,}\s*$")
_QUOTE = re.compile(r"^\s*>")
_SIGNATURE = re.compile(r"^-- ?$", re.M)
_SENT_FROM = re.compile(r"^(?:Sent from my .{1,40}|Odesláno z (?:mého|iPhonu|Androidu).{0,40}|Odoslané z .{1,40}|"
                        r"Gesendet von meinem .{1,40}|Envoyé de mon .{1,40}|Get Outlook for .{1,80}|"
                        r"Sent from Outlook.{0,40}|Wysłane z .{1,40}|Inviato da .{1,40}|Enviado desde .{1,40}|"
                        r"Enviado do meu .{1,40}|Verzonden (?:vanaf|met) .{1,40}|Skickat från .{1,40}|"
                        r"Sendt fra .{1,40}|Lähetetty .{1,40}|Hanki Outlook .{1,80}|Отправлено с .{1,40}|"
                        r"Envoyé depuis .{1,40}|Stáhn(?:ěte si|out) Outlook .{1,80})$", re.I)
_FOOTER = re.compile(r"^\s*(?:_{5,}|-{5,})\s*$|mailing\s+list|unsubscribe|listinfo|^https?://\S+$", re.I)
_INLINE_ATTRIBUTION = re.compile(
    rf"(?<=[.!?])\s+((?:On|Le|Am|Dne|Dňa|El|Il|Em|Op|W dniu)\s.{{5,300}}?(?:{_WROTE})\s*:)\s*$", re.I)
WINDOW = 3  # an attribution may wrap over this many lines


@dataclass(frozen=True)
class Extracted:
    """The text to relay, whether the history was found with confidence, and how many lines were hidden."""

    text: str
    confident: bool
    hidden: int = 0


def _split_inline_attributions(lines: list[str]) -> list[str]:
    """'Thanks. On Mon, Jan wrote:' -> the sentence and the attribution on lines of their own."""
    out: list[str] = []
    for line in lines:
        m = _INLINE_ATTRIBUTION.search(line) if not _QUOTE.match(line) else None
        out.extend([line[: m.start()].rstrip(), m.group(1)] if m else [line])
    return out


def _splitter(lines: list[str], i: int) -> int:
    """How many lines from i form a splitter (0: none)."""
    line = lines[i]
    if _SEPARATOR.match(line):
        return 1
    if _UNDERSCORES.match(line) and i + 1 < len(lines):
        below = _header_block(lines, i + 1)
        if below:
            return 1 + below
    block = _header_block(lines, i)
    if block:
        return block
    for n in range(1, WINDOW + 1):
        if i + n > len(lines) or (n > 1 and not lines[i + n - 1].strip()):
            break
        if _attribution(lines, i, n):
            # a wrapped attribution starts with its date, address or opener ("On", "Dne"); a first line
            # with none of them is the writer's last sentence, and the attribution starts below it
            first = lines[i]
            return n if n == 1 or re.search(r"\d|@", first) or _OPENERS.match(first) else 0
    return 0


def _attribution(lines: list[str], i: int, n: int) -> bool:
    """Do lines i..i+n-1 form an attribution ("On … wrote:", a dated "Name <addr>:" above a quote)?"""
    window = " ".join(ln.strip() for ln in lines[i: i + n])
    if len(window) > 500:
        return False
    if _HU.match(window):
        return True
    if _VERB_FIRST.match(window) and (_FULL_DATE.search(window) or _quote_follows(lines, i + n)):
        return True  # a sentence such as "I wrote at 10:30:" has neither a full date nor a quote below
    if _ATTRIBUTION.match(window) and re.search(r"\d|@", window) and (_OPENERS.match(window) or "@" in window):
        return True
    dated = window.endswith((":", "：")) and "@" in window and re.search(r"\d", window)
    return bool(dated or _DATED.match(window)) and "@" in window and _quote_follows(lines, i + n)


def _header_block(lines: list[str], i: int) -> int:
    """Lines of an Outlook-style header block starting at i: a From line, then at least one more header."""
    m = _HEADER.match(lines[i])
    if not m or not m.group("from"):
        return 0
    n = 1
    while i + n < len(lines) and n < 8 and (_HEADER.match(lines[i + n]) or (lines[i + n].startswith((" ", "\t"))
                                                                            and lines[i + n].strip())):
        n += 1
    return n if n >= 2 and sum(bool(_HEADER.match(ln)) for ln in lines[i: i + n]) >= 2 else 0


def _quote_follows(lines: list[str], i: int) -> bool:
    nxt = next((ln for ln in lines[i:] if ln.strip()), "")
    return bool(_QUOTE.match(nxt))


def mark(lines: list[str]) -> str:
    """One marker per line: e (empty), m (quoted), s (history starts), f (forward), t (text)."""
    marks = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            marks.append("e")
        elif _QUOTE.match(line):
            marks.append("m")
        elif _FORWARD.match(line):
            marks.append("f")
        else:
            n = _splitter(lines, i)
            if n:
                marks.extend("s" * n)
                i += n
                continue
            marks.append("t")
        i += 1
    for k in range(1, len(marks) - 1):  # a URL broken inside a quote ("> see https://x.test/a/" + "b/c")
        if marks[k] == "t" and marks[k - 1] == "m" and marks[k + 1] == "m" and " " not in lines[k].strip() \
                and re.search(r"https?://\S*$", lines[k - 1]):
            marks[k] = "m"
    return "".join(marks)


def _drop_signature(lines: list[str]) -> list[str]:
    text = "\n".join(lines)
    m = _SIGNATURE.search(text)
    if m:
        text = text[: m.start()]
    out = text.rstrip().split("\n")
    while out and (not out[-1].strip() or _SENT_FROM.match(out[-1].strip())):
        out.pop()
    return out


def _below(lines: list[str], marks: str) -> list[str]:
    """The writer's text below the last quote block, without a mailing list's footer."""
    last_q = marks.rfind("m")
    tail = lines[last_q + 1:]
    for k, line in enumerate(tail):
        if _FOOTER.search(line):
            tail = tail[:k]
            break
    return tail if any(ln.strip() for ln in tail) else []


def _attributions(lines: list[str], marks: str) -> str:
    """A short 'X wrote:' line right above a quote block belongs to the quote, even without a date."""
    out = list(marks)
    for i, k in enumerate(marks):
        if k != "m" or (i and marks[i - 1] == "m"):
            continue
        j = i - 1
        while j >= 0 and out[j] == "e":
            j -= 1
        if j >= 0 and out[j] == "t" and lines[j].rstrip().endswith((":", "：")) and len(lines[j]) < 200:
            out[j] = "m"
    return "".join(out)


def _count(text: str) -> int:
    """Non-empty lines: what "N quoted lines hidden" counts."""
    return sum(1 for ln in text.split("\n") if ln.strip())


def new_text(text: str, html: str = "") -> Extracted:
    """The new part of a mail; an HTML-only mail is read with its quote structure as `> ` lines."""
    marked = quoted_text(html) if html else None
    if marked is not None:
        got = latest_reply(marked)
        if got.confident:
            return Extracted(got.text, True, max(0, _count(text) - _count(got.text)))
    return latest_reply(text)


def latest_reply(text: str) -> Extracted:
    """The new part of a reply; the whole text (not confident) when the layout is unclear."""
    whole = text.replace("\r\n", "\n").strip()
    lines = _split_inline_attributions(whole.split("\n"))
    marks = mark(lines)
    first_s, first_f = marks.find("s"), marks.find("f")
    if first_f >= 0 and (first_s < 0 or first_f < first_s):
        # a forward the writer meant to include: nothing in it is history, only a signature goes
        forwarded = "\n".join(_drop_signature(lines)).strip()
        return Extracted(forwarded, True, 0) if forwarded else Extracted(whole, False)
    head = lines
    if first_s >= 0:
        head, rest = lines[:first_s], marks[first_s:]
        if re.search(r"m[me]*t[te]*m", rest):
            return Extracted(whole, False)  # answers written between the quotes
        below = _below(lines[first_s:], rest) if "m" in rest else []
        if below:
            head = head + [""] + below
    head_marks = _attributions(head, mark(head))
    if re.search(r"m[me]*t[te]*m", head_marks):
        return Extracted(whole, False)  # interleaved quotes and answers
    kept_lines: list[str] = []
    for ln, k in zip(head, head_marks, strict=True):
        if k not in "ms":
            kept_lines.append(ln)
        elif kept_lines and kept_lines[-1].strip():
            kept_lines.append("")  # a removed quote leaves a paragraph break, not glued paragraphs
    head = kept_lines
    kept = _drop_signature(head)
    result = "\n".join(kept).strip()
    result = re.sub(r"\n{3,}", "\n\n", result)
    if not result and first_s >= 0:  # a clear quote header and nothing above it: no new text at all
        return Extracted("", True, _count(whole))
    if not result:
        return Extracted(whole, False)
    return Extracted(result, True, max(0, _count(whole) - _count(result)))
