"""aioimaplib's client with a response reader that walks a received chunk instead of recursing on it.

aioimaplib 2.0 handles each line of what the server sent by calling itself on a copy of the
rest (`_handle_responses`, upstream issue iroco-co/aioimaplib#118, fixes unmerged): every line
of a 256 KiB read keeps its own copy of the tail alive until the chunk is done. A UID FETCH of
50 small mails (0.36 MiB) peaked at 13.8 MiB of Python memory in the daemon, the rise and fall
seen in its RSS during a drain; a read of 1000+ lines ends in RecursionError, which aioimaplib
logs but does not raise, so the command waits for its timeout. This reader keeps one position
in the chunk and copies only the lines and literals it hands on; what it hands on, and when, is
the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aioimaplib
from aioimaplib.aioimaplib import CRLF, Command, IncompleteRead, literal_data_re


class Protocol(aioimaplib.IMAP4ClientProtocol):  # type: ignore[misc]
    """IMAP4ClientProtocol whose `_handle_responses` is a loop over one buffer."""

    def _handle_responses(self, data: bytes, line_handler: Callable[[bytes, Command | None], Command | None],
                          current_cmd: Command | None = None) -> None:
        view, start = memoryview(data), 0
        while True:  # each turn is one call of the original, in the same order
            if start >= len(data):
                if self.pending_sync_command is not None:
                    self.pending_sync_command.flush()
                if current_cmd is not None and current_cmd.wait_data():
                    raise IncompleteRead(current_cmd)
                return
            if current_cmd is not None and current_cmd.wait_literal_data():
                start = len(data) - len(current_cmd.append_literal_data(view[start:]))  # it returns what it left
                if current_cmd.wait_literal_data():
                    raise IncompleteRead(current_cmd)
            end = data.find(CRLF, start)
            if end < 0:
                raise IncompleteRead(current_cmd, data[start:])
            line, start = data[start:end], end + len(CRLF)
            cmd = line_handler(line, current_cmd)
            literal = literal_data_re.match(line)
            if literal:
                if cmd is None:
                    cmd = Command("NIL", "unused")
                cmd.begin_literal_data(int(literal.group("size")))
                current_cmd = cmd
            else:
                current_cmd = cmd if cmd is not None and cmd.wait_data() else None


class IMAP4(aioimaplib.IMAP4):  # type: ignore[misc]
    """aioimaplib.IMAP4 (TLS when given an ssl_context) speaking through Protocol."""

    def create_client(self, host: str, port: int, loop: asyncio.AbstractEventLoop | None,
                      conn_lost_cb: Callable[[Exception | None], None] | None = None, ssl_context: Any = None) -> None:
        local = loop if loop is not None else asyncio.get_running_loop()
        self.protocol = Protocol(local, conn_lost_cb)
        self._client_task = local.create_task(local.create_connection(lambda: self.protocol, host, port,
                                                                      ssl=ssl_context))
