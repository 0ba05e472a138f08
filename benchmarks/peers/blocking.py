"""
The blocking pyzmq peer: plain sockets, no event loop; the baseline.

Blocking calls carry a timeout (C{RCVTIMEO}/C{SNDTIMEO}) only so that a
stalled run still notices the runner's stop and reports what it has.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import zmq

from benchmarks.peers.common import (
    END,
    PROBE,
    SUBSCRIBED,
    TOPIC_SEP,
    TOPICS,
    Control,
    SeqStats,
    Usage,
    describeZmq,
    emit,
    emitReady,
    emitSignal,
    latencyFields,
    now,
    nowNs,
    payloadMaker,
    seqOf,
    subscribedCount,
)

POLL_MS = 200
"""Longest a blocking call waits before looking at the runner's stop."""


class Peer:
    """One role of the blocking peer, run by L{main}."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.control = Control()
        self.context = zmq.Context(1)
        self.usage = Usage()
        self.sockets: list[zmq.Socket[bytes]] = []

    def socket(self, kind: int) -> zmq.Socket[bytes]:
        """A socket with the run's high-water marks, bound or connected."""
        hwm = int(self.config["hwm"])
        sock: zmq.Socket[bytes] = self.context.socket(kind)
        self.sockets.append(sock)  # open until the runner says stop
        sock.set(zmq.SNDHWM, hwm)
        sock.set(zmq.RCVHWM, hwm)
        sock.set(zmq.LINGER, 0)
        sock.set(zmq.RCVTIMEO, POLL_MS)
        sock.set(zmq.SNDTIMEO, POLL_MS)
        if self.config["bind"]:
            sock.bind(self.config["address"])
            emitReady(sock.getsockopt_string(zmq.LAST_ENDPOINT))
        else:
            sock.connect(self.config["address"])
        return sock

    @property
    def stopped(self) -> bool:
        return self.control.stop.is_set()

    def result(self, messages: int, **fields: Any) -> None:
        fields.update(self.usage.fields(messages))
        fields.update(describeZmq())
        emit("result", role=self.config["role"], **fields)

    def finish(self) -> None:
        """Wait for the runner's stop, then close everything."""
        self.control.stop.wait()
        self.context.destroy(linger=0)

    # Senders

    def push(self) -> None:
        sock = self.socket(zmq.PUSH)
        count = int(self.config["count"])
        make = payloadMaker(int(self.config["size"]))
        send = sock.send
        self.usage.mark()
        started = now()
        sent = 0
        while sent < count:
            try:
                send(make(sent))
            except zmq.Again:
                if self.stopped:
                    break
                continue
            sent += 1
        elapsed = now() - started
        self.result(sent, sent=sent, send_elapsed_s=elapsed)
        self.finish()

    def pub(self) -> None:
        sock = self.socket(zmq.PUB)
        count = int(self.config["count"])
        make = payloadMaker(int(self.config["size"]))
        prefixes = [tag + TOPIC_SEP for tag in TOPICS]
        topics = len(prefixes)
        probe = prefixes[SUBSCRIBED] + make(PROBE)
        probes = 0
        # Probe until the subscriber saw one (relayed by the runner as "go").
        while not self.control.go.is_set() and not self.stopped:
            sock.send(probe)
            probes += 1
            self.control.go.wait(0.001)
        send = sock.send
        self.usage.mark()
        for i in range(count):
            send(prefixes[i % topics] + make(i // topics))
        self.result(count, sent=count, probes=probes)
        ends = [prefix + make(END) for prefix in prefixes]
        while not self.stopped:
            for end in ends:
                sock.send(end)
            self.control.stop.wait(0.001)
        self.context.destroy(linger=0)

    # Receivers

    def pull(self) -> None:
        sock = self.socket(zmq.PULL)
        stats = SeqStats(int(self.config["count"]))
        pace = float(self.config.get("pace") or 0.0)
        recv = sock.recv
        expect = 0
        self.usage.mark()
        while stats.received < stats.expected:
            try:
                frame = recv()
            except zmq.Again:
                if self.stopped:
                    break
                continue
            seq = seqOf(frame)[0]
            if seq != expect:
                stats.mismatch(seq, expect)
            expect = seq + 1
            stats.received += 1
            if stats.firstAt is None:
                stats.firstAt = now()
            elif pace and not stats.received % 64:
                # Read at `pace` messages per second, whatever is queued.
                ahead = stats.firstAt + stats.received / pace - now()
                if ahead > 0:
                    self.control.stop.wait(ahead)
        stats.lastAt = now()
        self.result(stats.received, pace=pace or None, **stats.fields())
        self.finish()

    def sub(self) -> None:
        sock = self.socket(zmq.SUB)
        sock.set(zmq.SUBSCRIBE, TOPICS[SUBSCRIBED])
        stats = SeqStats(subscribedCount(int(self.config["count"])))
        offset = len(TOPICS[SUBSCRIBED] + TOPIC_SEP)
        recv = sock.recv
        expect = 0
        signalled = False
        while True:
            try:
                frame = recv()
            except zmq.Again:
                if self.stopped:
                    break
                continue
            seq = seqOf(frame, offset)[0]
            if seq >= PROBE:
                if seq == END:
                    break
                if not signalled:
                    signalled = True
                    self.usage.mark()
                    emitSignal("go")
                continue
            stats.lastAt = now()
            if seq != expect:
                stats.mismatch(seq, expect)
            expect = seq + 1
            stats.received += 1
            if stats.firstAt is None:
                stats.firstAt = stats.lastAt
        self.result(stats.received, **stats.fields())
        self.finish()

    # Request/reply

    def rep(self) -> None:
        sock = self.socket(zmq.REP)
        self._serve(sock.recv, sock.send)

    def router(self) -> None:
        sock = self.socket(zmq.ROUTER)
        self._serve(sock.recv_multipart, sock.send_multipart)

    def _serve(self, recv: Callable[[], Any], send: Callable[[Any], Any]) -> None:
        served = 0
        self.usage.mark()
        while not self.stopped:
            try:
                message = recv()
            except zmq.Again:
                continue
            send(message)
            served += 1
        self.result(served, served=served)
        self.context.destroy(linger=0)

    def _recvReply(self, recv: Callable[[], bytes]) -> bytes | None:
        while True:
            try:
                return recv()
            except zmq.Again:
                if self.stopped:
                    return None

    def req(self) -> None:
        sock = self.socket(zmq.REQ)
        count = int(self.config["count"])
        warmup = int(self.config.get("warmup", 0))
        make = payloadMaker(int(self.config["size"]))
        send, recv = sock.send, sock.recv
        stats = SeqStats(count)
        for i in range(warmup):
            send(make(i))
            if self._recvReply(recv) is None:
                break
        rtts: list[int] = []
        self.usage.mark()
        stats.firstAt = now()
        for i in range(count):
            started = nowNs()
            send(make(i))
            reply = self._recvReply(recv)
            if reply is None:
                break
            rtts.append(nowNs() - started)
            seq = seqOf(reply)[0]
            if seq != i:
                stats.mismatch(seq, i)
            stats.received += 1
        stats.lastAt = now()
        self.result(stats.received, **stats.fields(), **latencyFields(rtts))
        self.finish()

    def dealer(self) -> None:
        sock = self.socket(zmq.DEALER)
        count = int(self.config["count"])
        window = int(self.config["inflight"])
        make = payloadMaker(int(self.config["size"]))
        send, recv = sock.send, sock.recv
        stats = SeqStats(count)
        self.usage.mark()
        stats.firstAt = now()
        sent = 0
        while sent < min(window, count):
            send(make(sent))
            sent += 1
        expect = 0
        while stats.received < count:
            reply = self._recvReply(recv)
            if reply is None:
                break
            seq = seqOf(reply)[0]
            if seq != expect:
                stats.mismatch(seq, expect)
            expect = seq + 1
            stats.received += 1
            if sent < count:
                send(make(sent))
                sent += 1
        stats.lastAt = now()
        fields = stats.fields()
        # All `count` requests over the whole time, not (n - 1) / span.
        if fields["elapsed_s"]:
            fields["rate"] = stats.received / fields["elapsed_s"]
        self.result(stats.received, **fields)
        self.finish()


ROLES: dict[str, Callable[[Peer], None]] = {
    "push": Peer.push,
    "pull": Peer.pull,
    "paced_pull": Peer.pull,
    "pub": Peer.pub,
    "sub": Peer.sub,
    "rep": Peer.rep,
    "req": Peer.req,
    "rep_pipeline": Peer.router,
    "req_pipeline": Peer.dealer,
}


def main(config: dict[str, Any]) -> None:
    """Run the role C{config["role"]}."""
    ROLES[config["role"]](Peer(config))
