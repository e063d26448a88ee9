"""A 20 MB mail does not keep the daemon's memory: big buffers are returned to the system when freed.

How much memory a backlog with 20 MB mails takes is measured by `make bench` (the memory section);
these tests check the mechanism, not a figure.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time

from conftest import run_once

from maildesk import daemon

PROBE = """
import os, sys
from maildesk.daemon import give_back_big_buffers
def rss(): return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") >> 20
if sys.argv[1] == "on": give_back_big_buffers()
base = rss()
first = bytes(20 << 20); del first   # glibc would now raise its threshold past 20 MB...
second = b"x" * (20 << 20); del second  # ...and keep this one's pages on its heap
print(rss() - base)
"""


def kept_mib(mode: str) -> int:
    return int(subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                              check=True).stdout)


def test_a_freed_20_mb_buffer_is_given_back():
    assert kept_mib("off") >= 15  # the problem is real on this libc...
    assert kept_mib("on") <= 3  # ...and the daemon's setting removes it


def test_the_daemon_sets_it_before_any_mail(offline_cfg, monkeypatch):
    calls = []
    monkeypatch.setattr(daemon, "give_back_big_buffers", lambda: calls.append(1))
    run_once(offline_cfg)
    assert calls == [1]


def big_request(size: int, n: int = 1) -> bytes:
    """A contact's request with one random attachment of `size` bytes (CRLF, as a mail server stores it)."""
    from email.message import EmailMessage
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "alice@acme.test", "helpdesk@example.test", f"Backup {n}"
    msg["Message-ID"], msg["Date"] = f"<big-{n}@acme.test>", "Mon, 16 Nov 2026 09:00:00 +0100"
    msg.set_content("Hello,\nthe backup is attached.\n")
    msg.add_attachment(random.Random(n).randbytes(size), maintype="application", subtype="octet-stream",
                       filename="záloha.bak")
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def test_a_big_mail_is_fetched_in_pieces_and_arrives_whole(cfg, dovecot):
    import asyncio

    from maildesk.inbound.fetch import PIECE, ImapSource
    odd, even = big_request(2_500_000, 1), big_request(2 * PIECE, 2)
    even += b"e" * (-(len(even) + 2) % PIECE) + b"\r\n"  # an epilogue that makes it a multiple of PIECE
    for raw in (odd, even):
        dovecot.append(cfg.imap.username, raw)

    async def fetch() -> tuple[list[bytes | None], list[str], bytes | None]:
        src, sent = ImapSource(cfg), []
        await src.connect()
        real = src.conn.uid

        def spy(command, *args):
            sent.append(" ".join(str(a) for a in (command, *args)))
            return real(command, *args)

        src.conn.uid = spy  # type: ignore[method-assign]
        try:
            uids = await src.uids()
            got = [await src.fetch_pieces(u, 10 << 20) for u in uids]
            return got, sent, await src.fetch_pieces(uids[-1] + 100, 10 << 20)
        finally:
            await src.close()

    got, sent, gone = asyncio.run(fetch())
    assert got[0] == odd
    assert len(even) % PIECE == 0 and got[1] == even  # an exact multiple: the last piece is empty
    assert all(f"<{i * PIECE}.{PIECE}>" in " ".join(sent) for i in range(len(odd) // PIECE + 1))
    assert gone is None  # no such message: nothing, not an empty mail


def _memory_files(wait: float = 0.0) -> list[str]:
    """maildesk's memory files this process holds open, after waiting up to `wait` s for them to close.

    Only these are counted: other threads of the test process open and close descriptors of their own.
    """
    deadline = time.monotonic() + wait
    while True:
        held = []
        for fd in os.listdir("/proc/self/fd"):
            try:
                if "memfd:maildesk-mail" in os.readlink(f"/proc/self/fd/{fd}"):
                    held.append(fd)
            except OSError:  # closed meanwhile
                pass
        if not held or time.monotonic() >= deadline:
            return held
        time.sleep(0.01)


def test_a_big_mail_goes_to_the_worker_as_a_memory_file_and_its_attachment_to_the_blob_store(tmp_path, monkeypatch):
    from maildesk.config import Limits
    from maildesk.inbound import worker as worker_module
    from maildesk.store.blobs import BlobStore

    def not_through_the_pipe(raw, limits):
        raise AssertionError("a big mail was pickled through the pipe")

    monkeypatch.setattr(worker_module, "_remote", not_through_the_pipe)  # the forked worker has it too
    raw = big_request(3 << 20)
    assert _memory_files() == []
    worker = worker_module.ParseWorker(Limits(parse_timeout=20), tmp_path)
    try:
        parsed = worker(raw)
    finally:
        worker.close()
    [att] = parsed.attachments
    assert att.data == b"" and att.stored == att.size == 3 << 20  # stored over there, not pickled back
    assert BlobStore(tmp_path / "blobs").get(att.sha256) == random.Random(1).randbytes(3 << 20)
    assert parsed.raw == raw and parsed.subject == "Backup 1"
    # the memory file is closed once parsed (by the future's callback, in the executor's thread)
    assert _memory_files(wait=5) == []


def test_the_memory_file_is_emptied_as_soon_as_the_worker_has_read_it(tmp_path):
    """Its copy of the mail is gone before the parse (and its decoded files) need memory."""
    from maildesk.config import Limits
    from maildesk.inbound.worker import _memory_file, _remote_big
    raw = big_request(2 << 20)
    fd = _memory_file(raw)
    assert fd is not None
    try:
        assert os.fstat(fd).st_size == len(raw)
        parsed = _remote_big(os.getpid(), fd, Limits(), str(tmp_path / "blobs"))  # what the worker runs
        assert parsed is not None and parsed.subject == "Backup 1"
        assert os.fstat(fd).st_size == 0
    finally:
        os.close(fd)


def _cannot_read(parent, fd, limits, blobs):
    return None  # what the worker answers when /proc is not there to read the memory file


def test_a_worker_that_cannot_read_the_memory_file_gets_the_mail_through_the_pipe(tmp_path, monkeypatch):
    from maildesk.config import Limits
    from maildesk.inbound import worker as worker_module
    monkeypatch.setattr(worker_module, "_remote_big", _cannot_read)
    worker = worker_module.ParseWorker(Limits(parse_timeout=20), tmp_path)
    try:
        parsed = worker(big_request(2 << 20))
    finally:
        worker.close()
    [att] = parsed.attachments
    assert att.stored is None and len(att.data) == att.size == 2 << 20


def test_a_forwarded_file_is_built_without_a_second_copy(tmp_path):
    import json
    import os
    import tracemalloc

    from maildesk.outbound.message import attach
    from maildesk.store.blobs import BlobStore
    blobs = BlobStore(tmp_path)
    sha = blobs.put(os.urandom(6 << 20))
    raw = (b"From: helpdesk@example.test\r\nTo: jana@example.test\r\nSubject: x\r\n"
           b"Content-Type: text/plain\r\n\r\nhi\r\n")
    refs = json.dumps([{"sha256": sha, "content_type": "application/octet-stream", "filename": "x.bin"}])
    tracemalloc.start()
    try:
        out = attach(raw, refs, blobs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(out) > 8 << 20 and peak < 1.3 * len(out)  # the mail once (a list joined at the end: twice)


def test_a_server_that_ignores_the_range_or_never_ends_is_a_fault_not_a_loop(cfg):
    """A broken server answering every piece with the whole mail, or with pieces without end."""
    import asyncio

    import aioimaplib
    import pytest

    from maildesk.errors import MailServerDown
    from maildesk.inbound.fetch import PIECE, ImapSource

    def answer(piece: bytes):
        async def uid(command, *args):
            return aioimaplib.Response("OK", [b"1 FETCH (UID 7 BODY[]<0> {%d}" % len(piece), bytearray(piece),
                                              b")", b"Fetch completed."])
        return uid

    for piece, limit in ((b"x" * (PIECE + 10), 10 << 20), (b"y" * PIECE, 5 << 20)):
        src = ImapSource(cfg)
        src.imap = type("Conn", (), {"uid": staticmethod(answer(piece))})()
        with pytest.raises(MailServerDown, match="more than asked"):
            asyncio.run(src.fetch_pieces(7, limit))


def test_a_memory_file_that_cannot_be_filled_is_closed_and_the_pipe_is_used(monkeypatch):
    import errno

    from maildesk.inbound import worker as worker_module
    assert _memory_files() == []

    def no_memory(fd, data):
        raise OSError(errno.ENOMEM, "Cannot allocate memory")

    monkeypatch.setattr(worker_module.os, "write", no_memory)
    assert worker_module._memory_file(b"x" * (2 << 20)) is None
    assert _memory_files() == []
