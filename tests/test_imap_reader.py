"""The IMAP response reader (maildesk.inbound.imapwire): beside aioimaplib's, and against a real Dovecot.

aioimaplib 2.0 reads a chunk of the server's answer by calling itself once per line on a copy of
the rest: a read of more than ~1000 lines hits Python's recursion limit (logged, not raised: the
command then waits for its timeout), and each line's copy of the rest stays alive until the chunk
is done. maildesk's reader walks the chunk instead: it must hand on the same lines and literals
however the reads are cut, survive thousands of lines in one read, and hold little memory.
"""

from __future__ import annotations

import asyncio
import imaplib
import random
import time
import tracemalloc

import aioimaplib
import pytest
from aioimaplib.aioimaplib import Command, IncompleteRead
from conftest import eml

from maildesk.inbound.fetch import ImapSource
from maildesk.inbound.imapwire import Protocol


def append_many(dovecot, user: str, raws: list[bytes]) -> None:
    with dovecot.client(user) as c:
        for raw in raws:
            typ, data = c.append("INBOX", "", imaplib.Time2Internaldate(time.time()), raw)
            assert typ == "OK", data


def feed(protocol: type, chunks: list[bytes]) -> tuple[list[bytes], list[list[bytes]]]:
    """Hand `chunks` to a protocol's reader as reads from the socket would; returns the lines its
    line handler saw and the literals each FETCH line's command collected."""
    loop = asyncio.new_event_loop()
    proto, lines, commands = protocol(loop, None), [], []

    def handler(line: bytes, current: Command | None) -> Command | None:
        lines.append(bytes(line))
        if line.endswith(b"}"):
            commands.append(Command("FETCH", "A1", loop=loop))
            return commands[-1]
        return None

    for chunk in chunks:  # what data_received does, with our handler in place of the command table
        try:
            proto._handle_responses(proto.incomplete_line + chunk, handler, proto.current_command)
            proto.incomplete_line, proto.current_command = b"", None
        except IncompleteRead as incomplete:
            proto.current_command, proto.incomplete_line = incomplete.cmd, incomplete.data
    loop.close()
    return lines, [[bytes(x) for x in c._resp_lines] for c in commands]


def fetch_answer(rnd: random.Random, n: int) -> tuple[bytes, list[bytes]]:
    bodies = [bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 3000))) for _ in range(n)]
    bodies[0] = b"x\r\n)\r\n* 9 FETCH (UID 9 BODY[] {5}\r\n"  # a literal that looks like the protocol
    return b"".join(b"* %d FETCH (UID %d BODY[] {%d}\r\n%s)\r\n" % (i + 1, i + 1, len(b), b)
                    for i, b in enumerate(bodies)) + b"* 3 EXISTS\r\nA1 OK done\r\n", bodies


def test_the_reader_hands_on_what_aioimaplibs_does_however_the_reads_are_cut():
    rnd = random.Random(118)
    data, bodies = fetch_answer(rnd, 40)
    for _ in range(60):
        cuts = sorted(rnd.sample(range(1, len(data)), rnd.randint(0, 40)))
        chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        ours = feed(Protocol, chunks)
        assert ours == feed(aioimaplib.IMAP4ClientProtocol, chunks)
        assert len(ours[0]) == 82  # 40 FETCH lines, their ")" lines, EXISTS, OK
        assert ours[1] == [[b] for b in bodies]  # each literal whole, to its own command


def test_thousands_of_lines_in_one_read():
    data = b"".join(b"* %d FETCH (UID %d FLAGS (\\Seen))\r\n" % (n, n) for n in range(1, 3001)) + b"A1 OK\r\n"
    lines, _ = feed(Protocol, [data])
    assert len(lines) == 3001
    with pytest.raises(RecursionError):  # aioimaplib's own: logged by asyncio, the command waits for its timeout
        feed(aioimaplib.IMAP4ClientProtocol, [data])


def test_fifty_mails_in_one_fetch_hold_little_more_than_themselves(cfg, dovecot):
    raws = [eml("new_request", n=n).replace(b"Alice\r\n", b"Alice\r\n" + b"x" * 70 * 100 + b"\r\n") for n in range(50)]
    append_many(dovecot, cfg.imap.username, raws)

    async def go() -> tuple[dict[int, bytes], int]:
        src = ImapSource(cfg)
        await src.connect()
        try:
            uids = await src.uids()
            tracemalloc.start()
            try:
                got = await src.fetch_many(uids)
                return got, tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
        finally:
            await src.close()

    got, peak = asyncio.run(go())
    assert sorted(got.values()) == sorted(raws)
    size = sum(len(r) for r in raws)  # ~370 KB; aioimaplib's reader peaked at ~35 times that
    assert peak < 4 * size, f"peak {peak} for {size} bytes of mail"
