"""The throughput workload and the raw limit it is compared with.

`mails(n)` generates n Czech/Slovak helpdesk mails, deterministic for a seed:
~72 % new requests from 50 contacts of one customer, ~28 % replies carrying
`[EX #k]` of an earlier request, ~22 % with an attachment, RFC 2047 subjects,
quoted-printable and base64 bodies (the shape of ../shared/bench's mails).

`raw_limit(...)` is what any gateway must at least do: one IMAP session,
`UID FETCH 1:* (UID RFC822)`, the stdlib parser walking and decoding every
part, one SQLite transaction, STORE \\Deleted + EXPUNGE.
"""

from __future__ import annotations

import email
import email.policy
import imaplib
import random
import sqlite3
import time
from email.header import Header
from email.message import EmailMessage
from pathlib import Path

NAMES = ["Jiří Novák", "Petra Svobodová", "Ľubomír Kováč", "Zuzana Horváthová", "Tomáš Dvořák", "Jana Černá",
         "Martin Procházka", "Eva Kučerová", "Peter Baláž", "Lucia Šimková"]
TOPICS = ["Tiskárna hlásí chybu", "Faktura se neotevře", "Export mezd skončí na 90 %", "Nejde přihlášení",
          "Pomalá odezva systému", "Chyba při zálohování", "Žiadosť o novú licenciu", "Aktualizácia zlyhala"]
BODY = ("Dobrý den,\n\n{topic} od včerejšího rána. Zkoušeli jsme restart, nepomohlo to.\n"
        "Prosíme o radu, co dál. Číslo chyby: E-{n}.\n\nDěkuji,\n{name}\n")


def contacts(count: int = 50) -> list[str]:
    return [f"user{i}@firma{i % 7}.test" for i in range(count)]


def mails(n: int, seed: int = 42, first: int = 1) -> list[bytes]:
    """n raw mails; the k-th new request becomes ticket first+k-1 when processed in order."""
    rnd = random.Random(seed)
    senders, out, opened = contacts(), [], 0
    for i in range(n):
        sender, name, topic = rnd.choice(senders), rnd.choice(NAMES), rnd.choice(TOPICS)
        msg = EmailMessage()
        msg["From"] = f"{Header(name, 'utf-8').encode()} <{sender}>"
        msg["To"] = "helpdesk@example.test"
        msg["Message-ID"] = f"<bench-{seed}-{i}@{sender.split('@')[1]}>"
        msg["Date"] = "Mon, 16 Nov 2026 09:00:00 +0100"
        if opened and rnd.random() < 0.28:
            ticket = first - 1 + rnd.randint(1, opened)
            msg["Subject"] = Header(f"Re: [EX #{ticket}] {topic}", "utf-8").encode()
            body = f"Díky, ještě doplňuji: stále to padá.\n\n> {topic}\n> E-{ticket}\n"
        else:
            opened += 1
            msg["Subject"] = Header(f"{topic} ({i})", "utf-8").encode()
            body = BODY.format(topic=topic, n=i, name=name)
        msg.set_content(body, charset="utf-8", cte=rnd.choice(["quoted-printable", "base64", "8bit"]))
        if rnd.random() < 0.22:
            blob = rnd.randbytes(rnd.randint(5_000, 40_000))
            msg.add_attachment(blob, maintype="application", subtype="pdf", filename=f"výpis-{i}.pdf")
        out.append(msg.as_bytes(policy=email.policy.SMTP))
    return out


def append_all(client: imaplib.IMAP4, raws: list[bytes], folder: str = "INBOX") -> None:
    for raw in raws:
        client.append(folder, "", None, raw)


def raw_limit(host: str, port: int, user: str, password: str, db: Path) -> tuple[int, float]:
    """(messages, seconds) for the raw gateway over the mailbox as it is."""
    t0 = time.perf_counter()
    imap = imaplib.IMAP4(host, port)
    imap.login(user, password)
    imap.select("INBOX")
    typ, data = imap.uid("FETCH", "1:*", "(UID RFC822)")
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS mails (uid INTEGER, subject TEXT, sender TEXT, text TEXT, parts INT)")
    rows = []
    for item in data:
        if not isinstance(item, tuple):
            continue
        msg = email.message_from_bytes(item[1], policy=email.policy.default)
        texts, parts = [], 0
        for part in msg.walk():
            if part.is_multipart():
                continue
            parts += 1
            content = part.get_content()
            if isinstance(content, str):
                texts.append(content)
        rows.append((int(item[0].split(b"UID ")[1].split()[0]), str(msg["Subject"]), str(msg["From"]),
                     "\n".join(texts), parts))
    with conn:
        conn.executemany("INSERT INTO mails VALUES (?, ?, ?, ?, ?)", rows)
    imap.uid("STORE", "1:*", "+FLAGS.SILENT", r"(\Deleted)")
    imap.expunge()
    imap.logout()
    return len(rows), time.perf_counter() - t0


def big_mail(i: int, size: int = 20 * 1024 * 1024, seed: int = 42) -> bytes:
    """A contact's request carrying one attachment that makes the raw mail about `size` bytes (base64: 4/3)."""
    rnd = random.Random(seed + i)
    sender = contacts()[i % 50]
    msg = EmailMessage()
    msg["From"] = f"{Header(NAMES[i % len(NAMES)], 'utf-8').encode()} <{sender}>"
    msg["To"] = "helpdesk@example.test"
    msg["Message-ID"] = f"<big-{seed}-{i}@{sender.split('@')[1]}>"
    msg["Date"] = "Mon, 16 Nov 2026 09:00:00 +0100"
    msg["Subject"] = Header(f"Záloha databáze ke kontrole ({i})", "utf-8").encode()
    msg.set_content(BODY.format(topic="Záloha selhala", n=i, name=NAMES[i % len(NAMES)]), charset="utf-8")
    msg.add_attachment(rnd.randbytes(size * 3 // 4 - 4096), maintype="application", subtype="octet-stream",
                       filename=f"záloha-{i}.bak")
    return msg.as_bytes(policy=email.policy.SMTP)
