#!/usr/bin/env python3
"""
Several DEALERs and one ROUTER that answers each of them by identity.

A ROUTER socket knows every peer by an identity.  Each message it receives
starts with the sender's identity -- C{gotMessage(senderId, *frames)} --
and each message it sends starts with the identity of the peer it is for:
C{sendMsg(recipientId, frame)} or C{sendMultipart(recipientId, frames)}.
A DEALER can pick its identity (C{identity=b"alice"}); otherwise libzmq
makes one up, and the router can still answer it.

    alice (DEALER) --+
    bob   (DEALER) --+--> dispatcher (ROUTER, binds)
    carol (DEALER) --+
    (anonymous)    --+

Here every dealer says hello; the dispatcher welcomes each one by its
identity.  Once all have checked in, it hands each a personal job, in
reverse order of arrival, and collects the answers.  Every message must
reach exactly the dealer it was addressed to.

Everything runs in this one process over TCP on a random local port, and
the program stops by itself:

    .venv/bin/python examples/router_dealer.py   # or any Python with txzmq installed

Exit status 0 when every dealer got its own messages and every job came back.
"""

from __future__ import annotations

from collections.abc import Callable

import zmq
from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import react

from txzmq import (
    ZmqDealerConnection,
    ZmqEndpoint,
    ZmqEndpointType,
    ZmqFactory,
    ZmqRouterConnection,
)

TIMEOUT = 5.0  # seconds: give up (and exit 1) if messages are missing by then
NAMES = [b"alice", b"bob", b"carol", None]  # None: let libzmq pick an identity


def show(identity: bytes) -> str:
    """Printable form of an identity (libzmq's own ones are binary)."""
    return identity.decode() if identity.isalpha() else "0x" + identity.hex()


class Dispatcher(ZmqRouterConnection):
    """Welcomes dealers by identity, then gives each one a job."""

    def __init__(
        self, factory: ZmqFactory, expected: int, onDone: Callable[[], None]
    ) -> None:
        super().__init__(
            factory, ZmqEndpoint(ZmqEndpointType.bind, "tcp://127.0.0.1:*")
        )
        self.expected = expected
        self.onDone = onDone
        self.arrivals: list[bytes] = []  # identities, in order of arrival
        self.answers: dict[bytes, int] = {}

    def gotMessage(self, senderId: bytes, *frames: bytes) -> None:
        kind = frames[0]
        if kind == b"hello":
            self.arrivals.append(senderId)
            print(f"  dispatcher <- hello from {show(senderId)}")
            # Reply to this peer only: the identity picks the connection.
            self.sendMultipart(senderId, [b"welcome", senderId])
            if len(self.arrivals) == self.expected:
                self.handOutJobs()
        elif kind == b"answer":
            self.answers[senderId] = int(frames[1])
            print(f"  dispatcher <- answer {int(frames[1])} from {show(senderId)}")
            if len(self.answers) == self.expected:
                self.onDone()

    def handOutJobs(self) -> None:
        # Last to arrive, first served: order is ours to choose.
        for number, identity in enumerate(reversed(self.arrivals), start=1):
            self.sendMultipart(identity, [b"job", str(number).encode(), identity])


class Client(ZmqDealerConnection):
    """Says hello, then doubles the number of the job it is given."""

    def __init__(
        self, factory: ZmqFactory, address: str, identity: bytes | None
    ) -> None:
        super().__init__(
            factory, ZmqEndpoint(ZmqEndpointType.connect, address), identity=identity
        )
        self.inbox: list[tuple[bytes, ...]] = []
        # A DEALER that connect()s queues messages at once, so this hello is
        # delivered as soon as the TCP connection is up.  A DEALER adds no
        # envelope: the frames arrive at the router as they are sent.
        self.sendMsg(b"hello")

    def gotMessage(self, *frames: bytes) -> None:
        self.inbox.append(frames)
        if frames[0] == b"job":
            self.sendMultipart([b"answer", str(int(frames[1]) * 2).encode()])


async def main(reactor: IReactorTime) -> None:
    factory = ZmqFactory(reactor)
    done: Deferred[None] = Deferred()
    dispatcher = Dispatcher(factory, len(NAMES), lambda: done.callback(None))
    address = dispatcher.socket.getsockopt_string(zmq.LAST_ENDPOINT)
    print(f"dispatcher listening on {address}")
    clients = [Client(factory, address, name) for name in NAMES]

    done.addTimeout(TIMEOUT, reactor)
    try:
        await done
    except defer.TimeoutError:
        pass  # the summary below says what is missing
    factory.shutdown()

    print("summary:")
    ok = len(dispatcher.answers) == len(clients)
    for client in clients:
        # The welcome tells a client the identity the router knows it by.
        welcomes = [f for f in client.inbox if f[0] == b"welcome"]
        jobs = [f for f in client.inbox if f[0] == b"job"]
        if len(welcomes) != 1 or len(jobs) != 1:
            print(f"  {client.identity!r}: got {client.inbox!r}")
            ok = False
            continue
        seenAs, (_, job, addressedTo) = welcomes[0][1], jobs[0]
        answer = dispatcher.answers.get(seenAs)
        good = (
            addressedTo == seenAs
            and client.identity in (None, seenAs)
            and answer == 2 * int(job)
        )
        ok = ok and good
        print(
            f"  {show(seenAs):<13} welcomed, job {int(job)} -> answer {answer}"
            f"{'' if good else '  WRONG'}"
        )
    if not ok:
        print("FAILED: a message was lost or reached the wrong dealer")
        raise SystemExit(1)
    print(f"OK: the router answered {len(clients)} dealers, each by its identity")


if __name__ == "__main__":
    react(main)
