"""
Deferreds waiting for an event, each with a key saying which events it
wants: the bookkeeping behind C{whenConnected}, C{whenDisconnected} and
C{whenSubscribed}.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from twisted.internet.defer import Deferred

__all__ = ["Waiters"]

_K = TypeVar("_K")
_V = TypeVar("_V")


class Waiters(Generic[_K, _V]):
    """
    Deferreds waiting, oldest first.  Cancelling one forgets it.
    """

    def __init__(self) -> None:
        self._waiting: list[tuple[_K, Deferred[_V]]] = []

    def __len__(self) -> int:
        return len(self._waiting)

    def wait(self, key: _K) -> Deferred[_V]:
        """A new Deferred waiting for an event that C{key} wants."""
        d: Deferred[_V] = Deferred(self._forget)
        self._waiting.append((key, d))
        return d

    def _forget(self, d: Deferred[_V]) -> None:
        self._waiting = [w for w in self._waiting if w[1] is not d]

    def take(self, wanted: Callable[[_K], bool]) -> list[Deferred[_V]]:
        """Remove and return the Deferreds whose key is C{wanted}."""
        taken: list[Deferred[_V]] = []
        kept = []
        for entry in self._waiting:
            if wanted(entry[0]):
                taken.append(entry[1])
            else:
                kept.append(entry)
        self._waiting = kept
        return taken

    def fail(self, error: Callable[[], BaseException]) -> None:
        """Fail every waiting Deferred with a new C{error()}."""
        waiting, self._waiting = self._waiting, []
        for _, d in waiting:
            d.errback(error())
