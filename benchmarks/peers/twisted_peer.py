"""
The Twisted peer: runs with whichever C{txzmq} is importable, this
repository's (in its virtualenv) or txZMQ 1.0 (in the virtualenv the
runner makes for it).  L{Compat} covers the few differences; the code
otherwise sticks to the API both share, as a txZMQ 1.0 user would write
it.

How a PUSH sender copes with the high-water mark (C{config["mode"]}):

  - C{retry}: C{push()} until it raises C{zmq.Again}, then wait until the
    socket is writable again (the connection's C{doRead}, which runs on
    every edge of C{ZMQ_FD}, checks C{ZMQ_EVENTS}) and go on.  The only
    way with txZMQ 1.0.
  - C{deferred}: C{pushDeferred()} with a bounded window: when
    C{queuedMessages} reaches the window, wait for the Deferred of the
    last message pushed.
  - C{producer}: a streaming C{IPushProducer} registered with
    C{registerProducer(producer, True)} that C{write()}s until it is
    paused, and goes on when resumed.
  - C{auto}: C{producer} when the connection has txzmq's flow control
    (Twisted's own way to stream into a consumer, and the fastest of the
    three), else C{retry}.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from collections.abc import Callable
from typing import Any

import zmq
from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer

from benchmarks.peers.common import (
    END,
    PROBE,
    SUBSCRIBED,
    TOPICS,
    BasePeer,
    LateTicks,
    SeqStats,
    boundEndpoint,
    describeZmq,
    emit,
    emitReady,
    latencyFields,
    now,
    nowNs,
    seqOf,
    subscribedCount,
    watchStdin,
)

RESCUE_DELAY = 0.05
"""
In C{retry} mode, seconds after which the sender tries again even if no
C{ZMQ_FD} edge came (counted as a rescue: it should never be needed).
"""


def installReactor(name: str) -> Any:
    """Install the named reactor and return it."""
    if name == "asyncio":
        import asyncio

        from twisted.internet import asyncioreactor

        asyncioreactor.install(asyncio.new_event_loop())
    elif name != "default":
        module = importlib.import_module(f"twisted.internet.{name}reactor")
        module.install()
    from twisted.internet import reactor

    return reactor


class Compat:
    """
    What differs between this repository's txzmq and txZMQ 1.0, and
    which of them this process runs.
    """

    def __init__(self, tx: Any) -> None:
        self.tx = tx
        self.flavor = "txzmq" if hasattr(tx, "__version__") else "txzmq1"
        if self.flavor == "txzmq":
            self.version = str(tx.__version__)
        else:
            from importlib.metadata import version

            self.version = version("txzmq")
        self.flowControl = hasattr(tx.ZmqConnection, "sendDeferred")

    def endpoint(self, config: dict[str, Any]) -> Any:
        kind = "bind" if config["bind"] else "connect"
        return self.tx.ZmqEndpoint(kind, config["address"])

    def describe(self, reactor: Any) -> dict[str, Any]:
        info = describeZmq()
        info.update(
            impl=self.flavor,
            impl_version=self.version,
            impl_file=self.tx.__file__,
            reactor=type(reactor).__name__,
        )
        return info


class Peer(BasePeer):
    """One role of the Twisted peer, run by L{main}."""

    def __init__(self, config: dict[str, Any], reactor: Any, tx: Any) -> None:
        super().__init__(config)
        self.reactor = reactor
        self.compat = Compat(tx)
        self.tx = tx
        self.factory = tx.ZmqFactory()
        self.factory.lingerPeriod = 0
        self.onGo: Callable[[], None] | None = None
        self.stopped = False

    # Plumbing

    def line(self, name: str) -> None:
        if name == "go" and self.onGo is not None:
            onGo, self.onGo = self.onGo, None
            onGo()

    def stop(self) -> None:
        """The runner said stop: report if unfinished, shut down."""
        if self.stopped:
            return
        self.stopped = True
        if self.partial is not None:
            partial, self.partial = self.partial, None
            partial()
        self.factory.shutdown()
        self.reactor.stop()

    def fail(self, failure: Any) -> None:
        """A Deferred failed: tell the runner, which treats it as an error."""
        text = failure.getTraceback() if hasattr(failure, "getTraceback") else ""
        sys.stderr.write(text)
        emit("error", message=str(getattr(failure, "value", failure)))

    def describe(self) -> dict[str, Any]:
        return self.compat.describe(self.reactor)

    def connection(self, cls: type) -> Any:
        """Make a connection of C{cls}, bound or connected as configured."""
        conn = cls(self.factory, self.compat.endpoint(self.config))
        if self.config["bind"]:
            emitReady(boundEndpoint(conn.socket))
        return conn

    def base(self, name: str) -> Any:
        """The connection class C{name} of the txzmq in use."""
        return getattr(self.tx, name)

    # Senders

    def push(self) -> None:
        count = self.count
        make = self.payloads()
        mode = str(self.config.get("mode") or "auto")
        if mode == "auto":
            mode = "producer" if self.compat.flowControl else "retry"
        if mode != "retry" and not self.compat.flowControl:
            raise SystemExit(f"mode {mode!r} needs txzmq's flow control API")
        sender = Sender(self, count, make, mode)
        self.partial = sender.report
        sender.start()

    def pub(self) -> None:
        from twisted.internet.task import LoopingCall

        count = self.count
        make = self.payloads()

        base: Any = self.base("ZmqPubConnection")

        class Pub(base):
            highWaterMark = self.hwm

        conn = self.connection(Pub)
        publish = conn.publish
        tags = list(TOPICS)
        topics = len(tags)
        probe = make(PROBE)
        prober = LoopingCall(publish, probe, tags[SUBSCRIBED])
        ends = [make(END) for _ in tags]

        def publishEnds() -> None:
            for tag, end in zip(tags, ends, strict=True):
                publish(end, tag)

        def go() -> None:
            prober.stop()
            self.usage.mark()
            for i in range(count):
                publish(make(i // topics), tags[i % topics])
            self.result(count, sent=count)
            LoopingCall(publishEnds).start(0.001)

        self.onGo = go
        prober.start(0.001)

    # Receivers

    def pull(self) -> None:
        stats = SeqStats(self.count)
        self.partial = lambda: self.result(stats.received, **stats.fields())
        expect = 0
        peer = self

        base: Any = self.base("ZmqPullConnection")

        class Pull(base):
            highWaterMark = self.hwm

            def onPull(self, message: list[bytes]) -> None:
                nonlocal expect
                seq = seqOf(message[0])[0]
                if seq != expect:
                    stats.mismatch(seq, expect)
                expect = seq + 1
                stats.received += 1
                if stats.firstAt is None:
                    stats.firstAt = now()
                if stats.received == stats.expected:
                    stats.lastAt = now()
                    peer.result(stats.received, **stats.fields())

        self.usage.mark()
        self.connection(Pull)

    def floodPull(self) -> None:
        """PULL as fast as possible while a 10 ms callLater chain runs."""
        ticks = LateTicks(self.reactor.callLater, float(self.config["tick"]))
        self.extras.append(ticks.report)
        self.pull()

    def sub(self) -> None:
        stats = SeqStats(subscribedCount(self.count))
        self.partial = lambda: self.result(stats.received, **stats.fields())
        expect = 0
        peer = self

        base: Any = self.base("ZmqSubConnection")

        class Sub(base):
            highWaterMark = self.hwm

            def gotMessage(self, message: bytes, tag: bytes) -> None:
                nonlocal expect
                seq = seqOf(message)[0]
                if seq >= PROBE:
                    if seq == END:
                        if peer.partial is not None:
                            peer.result(stats.received, **stats.fields())
                    else:
                        peer.probed()
                    return
                stats.lastAt = now()
                if seq != expect:
                    stats.mismatch(seq, expect)
                expect = seq + 1
                stats.received += 1
                if stats.firstAt is None:
                    stats.firstAt = stats.lastAt

        conn = self.connection(Sub)
        conn.subscribe(TOPICS[SUBSCRIBED])

    # Request/reply

    def rep(self) -> None:
        served = 0
        self.partial = lambda: self.result(served, served=served)

        base: Any = self.base("ZmqREPConnection")

        class Rep(base):
            highWaterMark = self.hwm

            def gotMessage(self, messageId: bytes, *parts: bytes) -> None:
                nonlocal served
                self.reply(messageId, *parts)
                served += 1

        self.usage.mark()
        self.connection(Rep)

    def _reqConnection(self) -> Any:
        base: Any = self.base("ZmqREQConnection")

        class Req(base):
            highWaterMark = self.hwm

        return self.connection(Req)

    def req(self) -> None:
        count = self.count
        warmup = int(self.config.get("warmup", 0))
        make = self.payloads()
        conn = self._reqConnection()
        stats = SeqStats(count)
        rtts: list[int] = []
        self.partial = lambda: self.result(
            stats.received, **stats.fields(), **latencyFields(rtts)
        )
        started = 0

        def warm(_: object, i: int) -> None:
            if i < warmup:
                conn.sendMsg(make(i)).addCallback(warm, i + 1).addErrback(self.fail)
            else:
                self.usage.mark()
                stats.firstAt = now()
                ask(0)

        def ask(i: int) -> None:
            nonlocal started
            started = nowNs()
            conn.sendMsg(make(i)).addCallback(answered, i).addErrback(self.fail)

        def answered(reply: list[bytes], i: int) -> None:
            rtts.append(nowNs() - started)
            seq = seqOf(reply[0])[0]
            if seq != i:
                stats.mismatch(seq, i)
            stats.received += 1
            if i + 1 < count:
                ask(i + 1)
            else:
                stats.lastAt = now()
                self.result(stats.received, **stats.fields(), **latencyFields(rtts))

        warm(None, 0)

    def reqPipeline(self) -> None:
        count = self.count
        window = int(self.config["inflight"])
        make = self.payloads()
        conn = self._reqConnection()
        stats = SeqStats(count)

        def report() -> None:
            self.result(stats.received, **stats.pipelinedFields())

        self.partial = report
        sent = 0
        expect = 0

        def ask() -> None:
            nonlocal sent
            conn.sendMsg(make(sent)).addCallback(answered, sent).addErrback(self.fail)
            sent += 1

        def answered(reply: list[bytes], i: int) -> None:
            nonlocal expect
            seq = seqOf(reply[0])[0]
            if seq != expect or seq != i:
                stats.mismatch(seq, expect)
            expect = seq + 1
            stats.received += 1
            if sent < count:
                ask()
            elif stats.received == count:
                stats.lastAt = now()
                report()

        self.usage.mark()
        stats.firstAt = now()
        while sent < min(window, count):
            ask()


class Sender:
    """
    Push C{count} messages through a PUSH connection, in one of the
    modes of the module docstring; report when libzmq has taken them all.
    """

    def __init__(
        self, peer: Peer, count: int, make: Callable[[int], bytes], mode: str
    ) -> None:
        self.peer = peer
        self.count = count
        self.make = make
        self.mode = mode
        self.window = int(peer.config.get("window") or 100)
        self.sent = 0
        self.waits = 0
        self.rescues = 0
        self.maxQueued = 0
        self.pauses = 0
        self.resumes = 0
        self.finished = False
        self.waiting = False
        self.started = 0.0
        self.rescue: Any = None
        sender = self

        base: Any = peer.base("ZmqPushConnection")

        class Push(base):
            highWaterMark = peer.hwm

            def doRead(self) -> None:
                super().doRead()
                if sender.waiting and not sender.peer.stopped:
                    sender.writable()

        self.conn = peer.connection(Push)
        if mode == "deferred":
            limit = getattr(self.conn, "maxQueuedMessages", self.window)
            self.window = max(1, min(self.window, int(limit)))

    def start(self) -> None:
        self.peer.usage.mark()
        self.started = now()
        if self.mode == "retry":
            self.pumpRetry()
        elif self.mode == "deferred":
            self.pumpDeferred()
        elif self.mode == "producer":
            producer = Producer(self)
            self.conn.registerProducer(producer, True)
            producer.produce()
        else:
            raise SystemExit(f"unknown send mode {self.mode!r}")

    def report(self) -> None:
        fields: dict[str, Any] = {
            "sent": self.sent,
            "mode": self.mode,
            "send_elapsed_s": now() - self.started,
            "waits": self.waits,
        }
        if self.mode == "retry":
            fields["rescues"] = self.rescues
        elif self.mode == "deferred":
            fields.update(window=self.window, max_queued=self.maxQueued)
        else:
            fields.update(
                pauses=self.pauses, resumes=self.resumes, max_queued=self.maxQueued
            )
        self.peer.result(self.sent, **fields)

    def done(self, _: object = None) -> None:
        if not self.finished:
            self.finished = True
            if self.mode == "producer":
                self.conn.unregisterProducer()
            self.report()

    # retry: push() and zmq.Again

    def pumpRetry(self) -> None:
        push = self.conn.push
        make = self.make
        socket = self.conn.socket
        i = self.sent
        count = self.count
        while i < count:
            try:
                push(make(i))
            except zmq.Again:
                # Reading EVENTS also lets libzmq process its commands; if
                # that made room, go on now, else wait for the FD's edge.
                if socket.get(zmq.EVENTS) & zmq.POLLOUT:
                    continue
                self.sent = i
                self.waits += 1
                self.waiting = True
                self.rescue = self.peer.reactor.callLater(RESCUE_DELAY, self.rescued)
                return
            i += 1
        self.sent = i
        self.done()

    def writable(self) -> None:
        if self.conn.socket.get(zmq.EVENTS) & zmq.POLLOUT:
            self.waiting = False
            if self.rescue.active():
                self.rescue.cancel()
            self.pumpRetry()

    def rescued(self) -> None:
        if self.waiting:
            self.rescues += 1
            self.waiting = False
            self.pumpRetry()

    # deferred: pushDeferred() in a bounded window

    def pumpDeferred(self) -> None:
        conn = self.conn
        pushDeferred = conn.pushDeferred
        make = self.make
        window = self.window
        i = self.sent
        count = self.count
        d = None
        while i < count:
            d = pushDeferred(make(i))
            i += 1
            if d.called:
                continue  # sent at once: nothing is queued
            queued = conn.queuedMessages
            if queued >= window:
                self.sent = i
                self.waits += 1
                if queued > self.maxQueued:
                    self.maxQueued = queued
                d.addCallbacks(self.resumeDeferred, self.peer.fail)
                return
        self.sent = i
        if d is None:
            self.done()
        else:
            d.addCallbacks(self.done, self.peer.fail)

    def resumeDeferred(self, _: object) -> None:
        if not self.peer.stopped:
            self.pumpDeferred()


@implementer(IPushProducer)
class Producer:
    """A streaming producer writing the sender's messages."""

    def __init__(self, sender: Sender) -> None:
        self.sender = sender
        self.paused = False
        self.producing = False
        self.stopped = False

    def pauseProducing(self) -> None:
        self.paused = True
        self.sender.pauses += 1
        queued = self.sender.conn.queuedMessages
        if queued > self.sender.maxQueued:
            self.sender.maxQueued = queued

    def resumeProducing(self) -> None:
        self.paused = False
        self.sender.resumes += 1
        self.produce()

    def stopProducing(self) -> None:
        self.stopped = True

    def produce(self) -> None:
        sender = self.sender
        if self.producing or self.stopped:
            return
        self.producing = True
        try:
            write = sender.conn.write
            make = sender.make
            i = sender.sent
            count = sender.count
            while i < count and not self.paused:
                write(make(i))
                i += 1
            sender.sent = i
        finally:
            self.producing = False
        if sender.sent >= sender.count and not self.paused:
            if sender.conn.queuedMessages == 0:
                sender.done()
            # else: resumeProducing() comes when the queue is empty.


def device(peer: Peer) -> None:
    """A txzmq ReactorDevice or ThreadDevice (this repository's txzmq only)."""
    from txzmq import devices

    config = peer.config
    kind = {"forwarder": devices.FORWARDER, "queue": devices.QUEUE}[config["device"]]
    impl = str(config["impl"])
    cls = {"reactor": devices.ReactorDevice, "thread": devices.ThreadDevice}[impl]
    dev = cls(
        peer.factory,
        kind,
        "bind:tcp://127.0.0.1:*",
        "bind:tcp://127.0.0.1:*",
        highWaterMark=peer.hwm,
        lingerPeriod=0,
    )
    count = peer.count

    def started(_: object) -> None:
        emit(
            "ready",
            endpoint=dev.addresses["frontend"][0],
            backend=dev.addresses["backend"][0],
        )
        peer.usage.mark()
        # Reported when the runner stops this process, before shutdown.
        peer.partial = lambda: peer.result(count, impl=type(dev).__name__)

    dev.start().addCallbacks(started, peer.fail)


ROLES: dict[str, Callable[[Peer], None]] = {
    "push": Peer.push,
    "flow_push": Peer.push,
    "pull": Peer.pull,
    "flood_pull": Peer.floodPull,
    "pub": Peer.pub,
    "sub": Peer.sub,
    "rep": Peer.rep,
    "req": Peer.req,
    "rep_pipeline": Peer.rep,
    "req_pipeline": Peer.reqPipeline,
    "device": device,
}


def main(config: dict[str, Any]) -> None:
    """Install the reactor, import txzmq, run the role until stopped."""
    reactor = installReactor(str(config.get("reactor") or "epoll"))
    import txzmq

    peer = Peer(config, reactor, txzmq)
    watchStdin(peer.line, peer.stop, via=reactor.callFromThread)

    def begin() -> None:
        try:
            ROLES[config["role"]](peer)
        except BaseException:
            traceback.print_exc()
            emit("error", message=f"{config['role']} failed to start")
            peer.stop()

    reactor.callWhenRunning(begin)
    profile = config.get("profile")
    if not profile:
        reactor.run()
        return
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        reactor.run()
    finally:
        profiler.disable()
        profiler.dump_stats(profile)
