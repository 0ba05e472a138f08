"""
Shared helpers for txzmq's own tests: unique addresses and Deferreds that
fire when enough messages have arrived (no sleeps).
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

import zmq
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.trial.unittest import SynchronousTestCase as TestCase

from txzmq import (
    ZmqConnection,
    ZmqDealerConnection,
    ZmqEndpoint,
    ZmqEndpointType,
    ZmqPairConnection,
    ZmqPullConnection,
    ZmqREPConnection,
    ZmqRouterConnection,
    ZmqSubConnection,
    ZmqXPubConnection,
    ZmqXSubConnection,
)

_counter = itertools.count()

TIMEOUT = 10.0
"""Seconds an integration test waits for messages before it fails."""


def inprocAddress() -> str:
    """A fresh inproc address."""
    return f"inproc://txzmq-test-{os.getpid()}-{next(_counter)}"


def ipcAddress(case: TestCase) -> str:
    """
    A fresh ipc address in a private temporary directory, removed when
    C{case} is cleaned up.
    """
    directory = tempfile.mkdtemp(prefix="txzmq-")
    case.addCleanup(shutil.rmtree, directory, True)
    return f"ipc://{directory}/{next(_counter)}.sock"


def bind(address: str) -> ZmqEndpoint:
    return ZmqEndpoint(ZmqEndpointType.bind, address)


def connect(address: str) -> ZmqEndpoint:
    return ZmqEndpoint(ZmqEndpointType.connect, address)


def boundAddress(connection: ZmqConnection) -> str:
    """
    The address a connection actually bound last (resolves the random port
    of C{tcp://127.0.0.1:*}).
    """
    return connection.socket.getsockopt_string(zmq.LAST_ENDPOINT)


class Collector:
    """
    Records what a callback receives; L{waitFor} returns a Deferred that
    fires with the records once there are at least C{count}.
    """

    def __init__(self, reactor: IReactorTime, timeout: float = TIMEOUT) -> None:
        self.items: list[Any] = []
        self._reactor = reactor
        self._timeout = timeout
        self._waiters: list[tuple[int, Deferred[list[Any]]]] = []

    def __call__(self, *args: Any) -> None:
        self.items.append(args[0] if len(args) == 1 else args)
        self._check()

    def _check(self) -> None:
        ready = [(n, d) for n, d in self._waiters if len(self.items) >= n]
        for waiter in ready:
            self._waiters.remove(waiter)
            waiter[1].callback(list(self.items))

    def waitFor(self, count: int) -> Deferred[list[Any]]:
        d: Deferred[list[Any]] = Deferred()
        self._waiters.append((count, d))
        self._check()
        if not d.called:
            d.addTimeout(self._timeout, self._reactor)
        return d


def untilTrue(
    reactor: IReactorTime,
    step: Callable[[], bool],
    interval: float = 0.01,
    timeout: float = TIMEOUT,
) -> Deferred[None]:
    """
    Call C{step} every C{interval} seconds until it returns true (for
    example: publish a probe until a subscriber has seen one, the way to
    wait out ZeroMQ's slow-joiner window without a fixed sleep).
    """
    d: Deferred[None] = Deferred()
    deadline = reactor.seconds() + timeout

    def tick() -> None:
        if step():
            d.callback(None)
        elif reactor.seconds() > deadline:
            d.errback(TimeoutError(f"condition not met within {timeout} s"))
        else:
            reactor.callLater(interval, tick)

    tick()
    return d


# Connections that record what their callback is given, one per pattern.


class RecordingPull(ZmqPullConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.pulled: list[list[Any]] = []
        super().__init__(*args, **kwargs)

    def onPull(self, message: list[Any]) -> None:
        self.pulled.append(message)


class RecordingSub(ZmqSubConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.received: list[tuple[Any, bytes]] = []
        super().__init__(*args, **kwargs)

    def gotMessage(self, message: Any, tag: bytes) -> None:
        self.received.append((message, tag))


class RecordingXSub(ZmqXSubConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.received: list[tuple[Any, bytes]] = []
        super().__init__(*args, **kwargs)

    def gotMessage(self, message: Any, tag: bytes) -> None:
        self.received.append((message, tag))


class RecordingXPub(ZmqXPubConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.subscriptions: list[tuple[bytes, bool]] = []
        super().__init__(*args, **kwargs)

    def gotSubscription(self, tag: bytes, subscribed: bool) -> None:
        self.subscriptions.append((tag, subscribed))


class RecordingREP(ZmqREPConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.requests: list[tuple[bytes, list[Any]]] = []
        super().__init__(*args, **kwargs)

    def gotMessage(self, messageId: bytes, *messageParts: Any) -> None:
        self.requests.append((messageId, list(messageParts)))


class RecordingRouter(ZmqRouterConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.received: list[tuple[Any, ...]] = []
        super().__init__(*args, **kwargs)

    def gotMessage(self, *args: Any) -> None:
        self.received.append(args)


class RecordingDealer(ZmqDealerConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.received: list[tuple[Any, ...]] = []
        super().__init__(*args, **kwargs)

    def gotMessage(self, *args: Any) -> None:
        self.received.append(args)


class RecordingPair(ZmqPairConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.received: list[tuple[Any, ...]] = []
        super().__init__(*args, **kwargs)

    def gotMessage(self, *args: Any) -> None:
        self.received.append(args)
