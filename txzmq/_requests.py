"""
The REQ side's table of requests waiting for a reply.

Pure bookkeeping: request ids and the pending entries.  The connection
owns the timers and the socket; this module never touches either, so its
rules are tested without a reactor.
"""

from __future__ import annotations

import os
from typing import TypeVar

_Entry = TypeVar("_Entry")


class RequestIds:
    """
    Unique request ids: a random 8-byte prefix per connection followed by
    an 8-byte counter.

    Ids are never reused, so a late reply to a timed-out or cancelled
    request can never be taken for the reply to a newer one.  The random
    prefix keeps ids of different clients of one REP socket apart, as
    txZMQ's UUIDs did, without calling C{os.urandom} per request.
    """

    def __init__(self, prefix: bytes | None = None) -> None:
        self._prefix = os.urandom(8) if prefix is None else prefix
        self._counter = 0

    def next(self) -> bytes:
        """Return a request id never returned before by this generator."""
        self._counter += 1
        return self._prefix + self._counter.to_bytes(8, "big")


class RequestTable(dict[bytes, _Entry]):
    """
    Requests sent and not yet answered, by id, oldest first.

    A dict, so that what is done per request and reply (C{in}, C{get},
    C{pop}, C{len}) is the dict's own, without a Python call each; the
    connection checks ids for uniqueness before adding them.
    """

    def drain(self) -> list[_Entry]:
        """
        Remove and return every pending entry, oldest first.  The table is
        empty when this returns, before the caller touches any entry.
        """
        entries = list(self.values())
        self.clear()
        return entries
