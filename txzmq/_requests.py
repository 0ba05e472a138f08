"""
The REQ side's table of requests waiting for a reply.

Pure bookkeeping: request ids and the pending entries.  The connection
owns the timers and the socket; this module never touches either, so its
rules are tested without a reactor.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Generic, TypeVar

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


class RequestTable(Generic[_Entry]):
    """
    Requests sent and not yet answered, by id, oldest first.
    """

    def __init__(self) -> None:
        self._pending: dict[bytes, _Entry] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, requestId: object) -> bool:
        return requestId in self._pending

    def add(self, requestId: bytes, entry: _Entry) -> None:
        """
        Record a request sent with C{requestId}.

        @raise ValueError: when the id is already pending (an id generator
            that repeats itself).
        """
        if requestId in self._pending:
            raise ValueError(f"request id {requestId!r} is already pending")
        self._pending[requestId] = entry

    def get(self, requestId: bytes) -> _Entry | None:
        """The entry for C{requestId}, left in place, or C{None}."""
        return self._pending.get(requestId)

    def complete(self, requestId: bytes) -> _Entry | None:
        """
        Remove and return the entry for C{requestId}, or C{None} when no
        such request is pending (a late reply to a request that timed out
        or was cancelled, or a reply that was never asked for).
        """
        return self._pending.pop(requestId, None)

    def drain(self) -> Iterator[_Entry]:
        """Remove and yield every pending entry, oldest first."""
        pending, self._pending = self._pending, {}
        yield from pending.values()
