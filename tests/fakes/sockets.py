"""What an in-process client did on the wire to one port, seen from its own sockets.

A stand-in that never answers cannot tell which timeout its client applied, only a
clock can, and a clock on a loaded two-core machine proves nothing. The client's
sockets can: :func:`watch` wraps ``socket.socket.connect`` and ``recv_into`` (what
urllib3 and http.client call, under botocore and requests alike) and records, for
sockets talking to one port, every connection attempt with the timeout set when it
was made, and every read with the timeout it waited under and whether it timed out.
The calls go through unchanged.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest


class Wire:
    """The record of one port: ``connects`` and ``reads``, each (timeout, outcome)."""

    def __init__(self, port: int) -> None:
        self.port = port
        #: one (timeout, "connected" | exception name) per connection attempt
        self.connects: list[tuple[float | None, str]] = []
        #: one (timeout, "data" | "eof" | exception name) per read
        self.reads: list[tuple[float | None, str]] = []

    def timed_out_reads(self) -> list[float | None]:
        """The timeouts of the reads that ended because their timeout expired."""
        return [timeout for timeout, outcome in self.reads if outcome == "TimeoutError"]


def watch(monkeypatch: pytest.MonkeyPatch, port: int) -> Wire:
    """Record what this process's sockets do with 127.0.0.1:``port`` until the test ends."""
    wire = Wire(port)
    connect, recv_into = socket.socket.connect, socket.socket.recv_into

    def watched_connect(self: socket.socket, address: object) -> None:
        ours = isinstance(address, tuple) and len(address) >= 2 and address[1] == port
        try:
            connect(self, address)
        except OSError as exc:
            if ours:
                wire.connects.append((self.gettimeout(), type(exc).__name__))
            raise
        if ours:
            wire.connects.append((self.gettimeout(), "connected"))

    def watched_recv_into(self: socket.socket, buffer: object, *args: object) -> int:
        try:
            ours = self.getpeername()[1] == port
        except OSError:
            ours = False
        try:
            count = recv_into(self, buffer, *args)
        except OSError as exc:
            if ours:
                wire.reads.append((self.gettimeout(), type(exc).__name__))
            raise
        if ours:
            wire.reads.append((self.gettimeout(), "data" if count else "eof"))
        return count

    monkeypatch.setattr(socket.socket, "connect", watched_connect)
    monkeypatch.setattr(socket.socket, "recv_into", watched_recv_into)
    return wire
