"""A big mail goes to DATA a piece at a time, and arrives exactly as sendmail() would deliver it.

aiosmtplib's sendmail() copies a mail four times on its way out (line ends, SIZE, dot-stuffing,
the final dot); forwarding a 20 MB attachment cost 80 MB. From smtp.BIG bytes on, maildesk
writes the same MAIL, RCPT and DATA itself, dot-stuffing a MiB at a time, whole lines each.
"""

from __future__ import annotations

import asyncio
import random
import re
from email.message import EmailMessage

import aiosmtplib
import pytest
from conftest import eml

from maildesk.outbound import smtp as smtp_module
from maildesk.outbound.message import Assembled
from maildesk.outbound.smtp import BIG, OutboxSender, _sendmail
from maildesk.pipeline import Pipeline
from maildesk.store import open_store


def big_text_mail() -> bytes:
    """Over 2 MiB of CRLF lines, with lines starting with dots on both sides of every piece boundary."""
    rnd = random.Random(1)
    lines = [b"From: helpdesk@example.test", b"To: jana@example.test", b"Subject: big", b""]
    size = 0
    while size < 2 * BIG + 5000:
        line = rnd.choice([b".", b"..", b".x", b"x.", b"", b"plain text line " * rnd.randint(1, 6)])
        lines.append(line)
        size += len(line) + 2
    return b"\r\n".join(lines) + b"\r\n"


async def send_both(port: int, data: bytes) -> None:
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=10)
    await client.connect()
    try:
        await _sendmail(client, "helpdesk@example.test", "jana@example.test", Assembled.of(data))
        await client.sendmail("helpdesk@example.test", ["jana@example.test"], data)
    finally:
        await client.quit()


@pytest.mark.parametrize("size", ["small", "big"])
def test_a_mail_on_the_lean_path_arrives_exactly_as_sendmail_delivers_it(smtp, size):
    data = big_text_mail()
    if size == "small":  # one piece: a typical confirmation, dots at line starts included
        data = data[:data.index(b"\r\n", 3000) + 2]
    assert smtp_module._crlf_only(data) and (len(data) > 2 * BIG) == (size == "big")
    assert b"\r\n." in data
    asyncio.run(send_both(smtp.port, data))
    pieces, whole = smtp.wait_for(2)
    assert pieces.data == whole.data == data  # dots un-stuffed by the server, nothing added, nothing lost
    assert (pieces.sender, pieces.rcpts) == (whole.sender, whole.rcpts)


def test_a_refusal_at_the_end_of_data_is_the_servers_answer_and_the_session_goes_on(smtp):
    data = big_text_mail()

    async def refused_then_small() -> int:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=smtp.port, timeout=10)
        await client.connect()
        try:
            smtp.answer = "552 message too big for this mailbox"
            with pytest.raises(aiosmtplib.SMTPDataError) as refused:
                await _sendmail(client, "helpdesk@example.test", "jana@example.test", Assembled.of(data))
            smtp.answer = None
            await client.sendmail("helpdesk@example.test", ["jana@example.test"], b"Subject: small\r\n\r\nok\r\n")
            return refused.value.code
        finally:
            await client.quit()

    assert asyncio.run(refused_then_small()) == 552
    [small] = smtp.wait_for(1)
    assert small.data.endswith(b"ok\r\n")


def test_a_forwarded_big_attachment_reaches_the_consultant_intact(make_config, customer_factory, smtp):
    cfg = make_config(jana_queues='"general"')
    customer_factory(cfg)
    store = open_store(cfg)
    blob = random.Random(2).randbytes(3 * BIG)
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "alice@acme.test", "helpdesk@example.test", "Backup to check"
    msg["Message-ID"] = "<big-1@acme.test>"
    msg.set_content("Hello,\nthe backup is attached.\n")
    msg.add_attachment(blob, maintype="application", subtype="octet-stream", filename="záloha.bak")
    Pipeline(cfg, store).process(msg.as_bytes())
    Pipeline(cfg, store).process(eml("new_request", n=2))  # and a small one on the same connection
    sent = asyncio.run(OutboxSender(cfg, store).flush())
    assert sent == len(smtp.wait_for(sent)) >= 3
    [forwarded] = [m for m in smtp.to("jana@example.test") if "Backup to check" in str(m["Subject"])]
    assert [p.get_payload(decode=True) for p in forwarded.iter_attachments()] == [blob]


class DeafAfterData:
    """An SMTP server on loopback that answers up to DATA's 354 and then stops reading (a stuck peer)."""

    def __init__(self) -> None:
        import socket
        import threading
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.conns: list = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.server.accept()
        self.conns.append(conn)
        conn.sendall(b"220 deaf ESMTP\r\n")
        buf = b""
        while True:
            buf += conn.recv(4096)
            while b"\r\n" in buf:
                line, buf = buf.split(b"\r\n", 1)
                verb = line[:4].upper()
                if verb == b"EHLO":
                    conn.sendall(b"250 deaf\r\n")
                elif verb == b"DATA":
                    conn.sendall(b"354 go on\r\n")
                    return  # reads nothing more: the socket's buffers fill up
                else:
                    conn.sendall(b"250 ok\r\n")

    def close(self) -> None:
        for c in self.conns:
            c.close()
        self.server.close()


def test_a_server_that_stops_reading_is_a_timeout_and_the_mail_waits_in_no_extra_copy():
    data = b"Subject: big\r\n\r\n" + b"x" * 998 + b"\r\n" + (b"y" * 76 + b"\r\n") * (24 * BIG // 78)
    deaf = DeafAfterData()
    buffered: list[int] = []

    async def send() -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=deaf.port, timeout=1)
        await client.connect()
        try:
            await _sendmail(client, "helpdesk@example.test", "jana@example.test", Assembled.of(data))
        finally:
            transport = client.protocol.transport if client.protocol else None
            buffered.append(transport.get_write_buffer_size() if transport else -1)
            client.close()

    try:
        with pytest.raises(TimeoutError):
            asyncio.run(send())
    finally:
        deaf.close()
    assert 0 <= buffered[0] <= 2 * BIG + 100  # the rest never left the mail's own bytes


class Discarding:
    """An SMTP server on loopback that takes every mail and keeps nothing of it but its length."""

    def __init__(self) -> None:
        import socket
        import threading
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.sizes: list[int] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.server.accept()
        with conn:
            conn.sendall(b"220 discard ESMTP\r\n")
            buf = b""
            while chunk := conn.recv(65536):
                buf += chunk
                while b"\r\n" in buf:
                    line, buf = buf.split(b"\r\n", 1)
                    verb = line[:4].upper()
                    if verb == b"DATA":
                        conn.sendall(b"354 go on\r\n")
                        buf = self._discard(conn, buf)
                        conn.sendall(b"250 ok\r\n")
                    elif verb == b"QUIT":
                        conn.sendall(b"221 bye\r\n")
                        return
                    else:
                        conn.sendall(b"250-discard\r\n250 SIZE\r\n" if verb == b"EHLO" else b"250 ok\r\n")

    def _discard(self, conn, buf: bytes) -> bytes:
        """Read up to the final dot, keeping only the last bytes (the dot may straddle two reads)."""
        seen, tail = len(buf), b"\r\n" + buf
        while b"\r\n.\r\n" not in tail:
            chunk = conn.recv(65536)
            seen, tail = seen + len(chunk), tail[-4:] + chunk
        self.sizes.append(seen)
        return tail.split(b"\r\n.\r\n", 1)[1]


def test_a_forwarded_file_is_encoded_while_it_goes_out_not_held_whole(smtp, tmp_path):
    """assemble() hands the mail over in pieces, the file read and encoded a block at a time: what
    arrives is attach()'s mail exactly, SIZE is its length, and sending holds about a block of it."""
    import json
    import os
    import tracemalloc

    from maildesk.outbound.message import assemble, attach
    from maildesk.store.blobs import BlobStore
    blobs = BlobStore(tmp_path)
    files = [os.urandom(n) for n in (6 << 20, 0, 1, 56, 57, 58, 3 * 57 * 1024 + 5)]
    refs = json.dumps([{"sha256": blobs.put(f), "content_type": "application/octet-stream",
                        "filename": f"f{i}.bin"} for i, f in enumerate(files)])
    raw = (b"From: helpdesk@example.test\r\nTo: jana@example.test\r\nSubject: files\r\n"
           b"Content-Type: text/plain; charset=utf-8\r\n\r\nHere they are.\r\n.\r\n.. dots\r\n")
    whole = attach(raw, refs, blobs)

    async def send(port: int, measure: bool = False) -> int:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=10)
        await client.connect()
        if measure:
            tracemalloc.start()
        mail = assemble(raw, refs, blobs)
        assert mail.size == len(whole)  # what MAIL FROM announces as SIZE
        try:
            await _sendmail(client, "helpdesk@example.test", "jana@example.test", mail)
            return tracemalloc.get_traced_memory()[1] if measure else 0
        finally:
            tracemalloc.stop()
            mail.close()
            await client.quit()

    def same_boundary(mail: bytes) -> bytes:  # each assembling draws its own boundary
        return mail.replace(re.search(rb'boundary="([^"]+)"', mail).group(1), b"BOUNDARY").replace(b"\r\n", b"\n")

    asyncio.run(send(smtp.port))
    [got] = smtp.wait_for(1)
    assert same_boundary(got.data) == same_boundary(whole)
    discard = Discarding()  # a server in this process that keeps nothing: what tracemalloc sees is the sending
    peak = asyncio.run(send(discard.port, measure=True))
    assert discard.sizes and discard.sizes[0] > len(whole)  # all of it went (dot-stuffed, with the final dot)
    assert peak < 2 << 20, f"{peak} bytes held to send {len(whole)}"  # before: the whole 8.8 MB mail and a piece


def test_a_file_that_fails_to_read_mid_data_defers_the_mail_and_declares_no_outage(make_config, customer_factory,
                                                                                    smtp, monkeypatch):
    """A disk error while a forwarded file streams out: the half-sent session is dropped (the server
    keeps nothing), the mail is tried again with the reason, the SMTP server is not called down, and
    the other mails of the flush go out."""
    import io

    from maildesk.models import MailState
    from maildesk.store.blobs import BlobStore
    cfg = make_config(jana_queues='"general"')
    customer_factory(cfg)
    store = open_store(cfg)
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "alice@acme.test", "helpdesk@example.test", "Backup to check"
    msg["Message-ID"] = "<big-2@acme.test>"
    msg.set_content("Hello,\nthe backup is attached.\n")
    msg.add_attachment(random.Random(3).randbytes(3 * BIG), maintype="application", subtype="octet-stream",
                       filename="backup.bak")
    Pipeline(cfg, store).process(msg.as_bytes())

    class Failing(io.BytesIO):
        def read(self, n: int = -1) -> bytes:
            if self.tell():  # the first block reads, the next fails
                raise OSError(5, "Input/output error")
            return super().read(n)

    real_open = BlobStore.open
    monkeypatch.setattr(BlobStore, "open", lambda self, sha: Failing(real_open(self, sha).read()))
    sender = OutboxSender(cfg, store)
    sent = asyncio.run(sender.flush())
    [row] = store.all("SELECT status, last_error FROM outbox WHERE attachments IS NOT NULL")
    assert row["status"] == MailState.PENDING.value and "could not be read: OSError" in row["last_error"]
    assert sender.down_since is None  # not the server's fault
    assert sent == len(smtp.wait_for(sent)) >= 1  # the confirmation to Alice went out; nothing half-sent arrived
    assert not [m for m in smtp.to("jana@example.test") if "Backup to check" in str(m["Subject"])]
