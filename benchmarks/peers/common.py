"""
What every peer process shares: payloads with sequence numbers, the
sequence check, resource usage, and the line protocol with the runner.

Standard library only: this module also runs in the txZMQ 1.0
virtualenv, where nothing of the repository but C{benchmarks} is
importable.
"""

from __future__ import annotations

import json
import resource
import struct
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

SEQ = struct.Struct(">Q")
"""Every payload starts with its sequence number, 8 bytes big-endian."""

PROBE = 2**64 - 2
"""Sequence number of the publisher's probes (before the timed part)."""

END = 2**64 - 1
"""Sequence number of the publisher's end markers (after the data)."""

TOPICS = [b"t0", b"t1", b"t2", b"t3"]
"""The pub/sub scenario publishes round robin on these tags."""

SUBSCRIBED = 1
"""Index in L{TOPICS} of the one tag the subscriber subscribes to."""

TOPIC_SEP = b"\0"
"""txZMQ's wire format for pub/sub: C{tag + b"\\0" + body} in one frame."""


def payloadMaker(size: int) -> Callable[[int], bytes]:
    """
    Return C{make(seq)} building a C{size}-byte payload that starts with
    C{seq}.
    """
    if size < SEQ.size:
        raise ValueError(f"payloads need at least {SEQ.size} bytes, got {size}")
    pack = SEQ.pack
    pad = b"\0" * (size - SEQ.size)
    return lambda seq: pack(seq) + pad


seqOf = SEQ.unpack_from
"""C{seqOf(frame, offset=0)[0]} is the sequence number of a payload."""


def subscribedCount(total: int) -> int:
    """How many of C{total} published messages carry the subscribed tag."""
    return len(range(SUBSCRIBED, total, len(TOPICS)))


class SeqStats:
    """
    Received sequence numbers, checked against 0, 1, 2...

    The hot loops of the peers inline the fast path (C{seq == expect})
    and call L{mismatch} only when a number is not the expected one.
    """

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.received = 0
        self.gaps = 0
        self.disorder = 0
        self.firstAt: float | None = None
        self.lastAt: float | None = None

    def mismatch(self, seq: int, expect: int) -> None:
        """C{seq} arrived where C{expect} was due."""
        if seq > expect:
            self.gaps += seq - expect
        else:
            self.disorder += 1

    def fields(self) -> dict[str, Any]:
        """The receiver's part of a result."""
        elapsed = None
        rate = None
        if self.firstAt is not None and self.lastAt is not None:
            elapsed = self.lastAt - self.firstAt
            if self.received > 1 and elapsed > 0:
                rate = (self.received - 1) / elapsed
        return {
            "expected": self.expected,
            "received": self.received,
            "lost": max(self.expected - self.received, 0),
            "gaps": self.gaps,
            "disorder": self.disorder,
            "in_order": self.gaps == 0 and self.disorder == 0,
            "elapsed_s": elapsed,
            "rate": rate,
        }

    def pipelinedFields(self) -> dict[str, Any]:
        """
        L{fields} for requests kept in flight: the rate of all of them
        over the whole time, not (n - 1) / span.
        """
        fields = self.fields()
        if fields["elapsed_s"]:
            fields["rate"] = self.received / fields["elapsed_s"]
        return fields


def percentile(sortedValues: list[float], fraction: float) -> float | None:
    """The nearest-rank percentile of already sorted values."""
    if not sortedValues:
        return None
    rank = max(int(round(fraction * len(sortedValues) + 0.5)) - 1, 0)
    return sortedValues[min(rank, len(sortedValues) - 1)]


def latencyFields(nanoseconds: list[int]) -> dict[str, Any]:
    """Median, p99 and worst of round trips measured in nanoseconds."""
    values = sorted(ns / 1000.0 for ns in nanoseconds)
    return {
        "p50_us": percentile(values, 0.50),
        "p99_us": percentile(values, 0.99),
        "max_us": values[-1] if values else None,
    }


def _cpuSeconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _maxRssKiB() -> int:
    # Linux reports kibibytes (macOS bytes; the suite targets Linux).
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def currentRssKiB() -> int | None:
    """The resident set size now (Linux), or None."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * resource.getpagesize() // 1024


class Usage:
    """
    CPU time and peak RSS of this process (every thread, libzmq's I/O
    thread included), from L{mark} (the start of the measured work) to
    L{fields}.
    """

    def __init__(self) -> None:
        self.mark()

    def mark(self) -> None:
        """The measured work starts now."""
        self._cpu = _cpuSeconds()
        self._peakAtMark = _maxRssKiB()
        self._rssAtMark = currentRssKiB()

    def fields(self, messages: int) -> dict[str, Any]:
        """Resource usage since L{mark}, per message where it applies."""
        cpu = _cpuSeconds() - self._cpu
        peak = _maxRssKiB()
        base = self._rssAtMark if self._rssAtMark is not None else self._peakAtMark
        return {
            "cpu_s": cpu,
            "cpu_us_per_msg": cpu * 1e6 / messages if messages else None,
            "maxrss_kib": peak,
            "rss_at_start_kib": base,
            "rss_growth_kib": max(peak - base, 0),
        }


def emit(event: str, **fields: Any) -> None:
    """Send one JSON line to the runner."""
    fields["event"] = event
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def emitReady(endpoint: str | None = None) -> None:
    """Tell the runner this peer is set up (and where it is bound)."""
    emit("ready", endpoint=endpoint)


def emitSignal(name: str) -> None:
    """Ask the runner to pass C{name} to the other peer's stdin."""
    emit("signal", name=name)


def watchStdin(
    onLine: Callable[[str], None],
    onEnd: Callable[[], None],
    via: Callable[..., Any] | None = None,
) -> threading.Thread:
    """
    Read the runner's lines in a daemon thread: C{onLine(name)} for each,
    then C{onEnd()} at end of file (the runner's "stop").  Both run in
    that thread, or, given C{via} (an event loop's thread-safe "call
    soon"), are handed over with C{via(onLine, name)} and C{via(onEnd)}.
    """

    def line(name: str) -> None:
        if via is None:
            onLine(name)
        else:
            via(onLine, name)

    def end() -> None:
        if via is None:
            onEnd()
        else:
            via(onEnd)

    def run() -> None:
        try:
            for text in sys.stdin:
                name = text.strip()
                if name:
                    line(name)
        finally:
            end()

    thread = threading.Thread(target=run, name="runner-stdin", daemon=True)
    thread.start()
    return thread


class Control:
    """
    The runner's signals as C{threading.Event}s, for the blocking peer
    (the other peers hand the lines to their event loop).
    """

    def __init__(self) -> None:
        self.go = threading.Event()
        self.stop = threading.Event()
        watchStdin(self._line, self.stop.set)

    def _line(self, name: str) -> None:
        if name == "go":
            self.go.set()


def now() -> float:
    """The clock of every measurement (seconds, monotonic)."""
    return time.perf_counter()


def nowNs() -> int:
    """The clock of latency measurements (nanoseconds, monotonic)."""
    return time.perf_counter_ns()


def describeZmq() -> dict[str, Any]:
    """Versions of pyzmq and libzmq in this process."""
    import zmq

    return {"pyzmq": zmq.pyzmq_version(), "libzmq": zmq.zmq_version()}


def boundEndpoint(sock: Any) -> str:
    """The endpoint a pyzmq socket was last bound to."""
    import zmq

    return str(sock.getsockopt_string(zmq.LAST_ENDPOINT))


def setLimits(sock: Any, hwm: int) -> None:
    """Give a pyzmq socket the run's high-water marks and no linger."""
    import zmq

    sock.set(zmq.SNDHWM, hwm)
    sock.set(zmq.RCVHWM, hwm)
    sock.set(zmq.LINGER, 0)


def attach(sock: Any, config: dict[str, Any]) -> None:
    """Bind (and tell the runner where) or connect, as configured."""
    if config["bind"]:
        sock.bind(config["address"])
        emitReady(boundEndpoint(sock))
    else:
        sock.connect(config["address"])


class LateTicks:
    """
    A chain of timers C{interval} apart, scheduled with C{callLater} (an
    event loop's C{call_later} or a reactor's C{callLater}): how late the
    worst of them fired.
    """

    def __init__(
        self, callLater: Callable[[float, Callable[[], None]], Any], interval: float
    ) -> None:
        self.callLater = callLater
        self.interval = interval
        self.worst = 0.0
        self.ticks = 0
        self.due = now() + interval
        self.timer: Any = callLater(interval, self.tick)

    def tick(self) -> None:
        late = now() - self.due
        self.worst = max(self.worst, late)
        self.ticks += 1
        self.due = now() + self.interval
        self.timer = self.callLater(self.interval, self.tick)

    def report(self) -> dict[str, Any]:
        """Stop the chain; the worst delay and how many ticks came."""
        # The pending tick counts too: it may be late already.
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        worst = max(self.worst, now() - self.due)
        return {"worst_delay_ms": worst * 1000, "ticks": self.ticks}


class BasePeer:
    """What the peers' C{Peer} classes share: the configuration, resource
    usage, and the result line."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.usage = Usage()
        self.partial: Callable[[], None] | None = None
        """Reports what a role did so far when the runner stops it early."""
        self.extras: list[Callable[[], dict[str, Any]]] = []
        """More fields for the result, computed when it is sent."""
        self.signalled = False
        """Whether a subscriber has seen a probe (see L{probed})."""

    @property
    def hwm(self) -> int:
        return int(self.config["hwm"])

    @property
    def count(self) -> int:
        return int(self.config["count"])

    def payloads(self) -> Callable[[int], bytes]:
        """C{make(seq)} for payloads of the configured size."""
        return payloadMaker(int(self.config["size"]))

    def describe(self) -> dict[str, Any]:
        """What this process runs, for the result."""
        return describeZmq()

    def result(self, messages: int, **fields: Any) -> None:
        """Send the result; the role has no partial result to report now."""
        self.partial = None
        for extra in self.extras:
            fields.update(extra())
        fields.update(self.usage.fields(messages))
        fields.update(self.describe())
        emit("result", role=self.config["role"], **fields)

    def probed(self) -> None:
        """
        A subscriber got a probe: at the first, start measuring and ask
        the runner to tell the publisher to go.
        """
        if not self.signalled:
            self.signalled = True
            self.usage.mark()
            emitSignal("go")
