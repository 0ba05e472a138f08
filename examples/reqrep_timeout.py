#!/usr/bin/env python3
"""
Request/reply with Deferreds, and a request that times out.

C{ZmqREQConnection.sendMsg()} returns a Deferred that fires with the reply
(a list of frames).  Give it C{timeout=} seconds and it fails with
C{ZmqRequestTimeoutError} (a C{TimeoutError}) if no reply comes in time.
Many requests can be in flight at once: each carries a unique id, and the
REP side answers by id, in any order, now or later.

This program sends three requests to a server:

  1. b"echo hello"  -- answered at once;
  2. b"slow report" -- the server takes 0.5 s, the client waits 0.2 s: the
     request times out.  When the reply finally arrives it matches no
     waiting request, so txzmq drops it (and logs that at debug level,
     printed below).  Request ids are never reused, so the late reply can
     never be mistaken for the answer to a newer request;
  3. b"echo after"  -- sent after the late reply, answered correctly.

Everything runs in this one process over TCP on a random local port, and
the program stops by itself:

    .venv/bin/python examples/reqrep_timeout.py   # or any Python with txzmq installed

Exit status 0 when requests 1 and 3 were answered and request 2 timed out.
"""

from __future__ import annotations

import zmq
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import react
from twisted.logger import (
    FilteringLogObserver,
    ILogFilterPredicate,
    ILogObserver,
    LogEvent,
    LogLevel,
    LogLevelFilterPredicate,
    PredicateResult,
    formatEvent,
    globalLogBeginner,
)
from zope.interface import provider

from txzmq import (
    ZmqEndpoint,
    ZmqEndpointType,
    ZmqFactory,
    ZmqREPConnection,
    ZmqREQConnection,
    ZmqRequestTimeoutError,
)

SLOW_SECONDS = 0.5  # how long the server takes to answer b"slow"
CLIENT_TIMEOUT = 0.2  # how long the client waits for it
FAST_TIMEOUT = 5.0  # generous timeout for the requests that should succeed


class Server(ZmqREPConnection):
    """Echoes at once; answers b"slow" requests after SLOW_SECONDS."""

    def __init__(self, factory: ZmqFactory, reactor: IReactorTime) -> None:
        super().__init__(
            factory, ZmqEndpoint(ZmqEndpointType.bind, "tcp://127.0.0.1:*")
        )
        self.reactor = reactor
        self.lateReplySent: Deferred[None] = Deferred()

    def gotMessage(self, messageId: bytes, *messageParts: bytes) -> None:
        command, argument = messageParts
        print(f"  server <- {command.decode()} {argument.decode()}")
        if command == b"slow":
            self.reactor.callLater(SLOW_SECONDS, self.answerLate, messageId, argument)
        else:
            self.reply(messageId, argument)

    def answerLate(self, messageId: bytes, argument: bytes) -> None:
        # reply() can be called any time after gotMessage(), with the same id.
        self.reply(messageId, b"here is your " + argument)
        print("  server -> late reply to the slow request")
        self.lateReplySent.callback(None)


@provider(ILogObserver)
def printLogEvent(event: LogEvent) -> None:
    print(f"  log: {formatEvent(event)}")


def showTxzmqLogs() -> None:
    """
    Print txzmq's log events, debug level included, to stdout.

    txzmq logs with C{twisted.logger}; an application decides where logs go.
    """

    @provider(ILogFilterPredicate)
    def fromTxzmq(event: LogEvent) -> PredicateResult:
        namespace: str = event.get("log_namespace", "")
        verdict: PredicateResult = (
            PredicateResult.maybe
            if namespace.startswith("txzmq")
            else PredicateResult.no
        )
        return verdict

    levels = LogLevelFilterPredicate(defaultLogLevel=LogLevel.debug)
    observer = FilteringLogObserver(printLogEvent, [fromTxzmq, levels])
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)


async def main(reactor: IReactorTime) -> None:
    showTxzmqLogs()
    factory = ZmqFactory(reactor)
    server = Server(factory, reactor)
    address = server.socket.getsockopt_string(zmq.LAST_ENDPOINT)
    client = ZmqREQConnection(factory, ZmqEndpoint(ZmqEndpointType.connect, address))
    print(f"server listening on {address}")

    outcomes: list[tuple[str, bool]] = []  # (description, as expected?)

    async def request(command: bytes, argument: bytes, timeout: float) -> list[bytes]:
        started = reactor.seconds()
        try:
            reply = await client.sendMsg(command, argument, timeout=timeout)
        finally:
            elapsed = (reactor.seconds() - started) * 1000
            label = f"{command.decode()} {argument.decode()}"
            print(f"  client: '{label}' finished after {elapsed:.1f} ms")
        return reply

    # 1. Answered at once.
    reply = await request(b"echo", b"hello", FAST_TIMEOUT)
    outcomes.append((f"echo hello   -> {reply!r}", reply == [b"hello"]))

    # 2. Times out: the server is slower than the client's patience.
    try:
        reply = await request(b"slow", b"report", CLIENT_TIMEOUT)
        outcomes.append((f"slow report  -> unexpected reply {reply!r}", False))
    except ZmqRequestTimeoutError as e:
        outcomes.append((f"slow report  -> timed out: {e}", True))

    # 3. Wait for the server's late reply (the client drops it), then ask
    #    again: the answer must be this request's, not the late one.
    await server.lateReplySent
    reply = await request(b"echo", b"after", FAST_TIMEOUT)
    outcomes.append((f"echo after   -> {reply!r}", reply == [b"after"]))

    factory.shutdown()
    print("summary:")
    for description, ok in outcomes:
        print(f"  {'ok  ' if ok else 'BAD '} {description}")
    if not all(ok for _, ok in outcomes):
        print("FAILED: a request did not end as expected")
        raise SystemExit(1)
    print("OK: 2 requests answered, 1 timed out, its late reply was dropped")


if __name__ == "__main__":
    react(main)
