"""
The C{txzmq} command: a netcat for ZeroMQ::

    txzmq sub connect:tcp://127.0.0.1:5555 --topic news --format json
    txzmq pub bind:tcp://*:5555 --topic news "hello" "world"
    txzmq push connect:tcp://127.0.0.1:5556 < lines.txt
    txzmq pull bind:tcp://*:5556 --count 100
    txzmq req connect:tcp://127.0.0.1:5557 ping
    txzmq rep bind:tcp://*:5557 --echo
    txzmq proxy --kind streamer --frontend bind:tcp://*:5558
                --backend bind:tcp://*:5559
    txzmq monitor connect:tcp://127.0.0.1:5555 --type sub
    txzmq keygen [--dir DIR --name NAME]
    txzmq bench [ARGS...]            (python -m benchmarks, from a checkout)
    txzmq demo [ARGS...]             (python -m txzmq.demo)

Endpoints are endpoint strings, C{bind:ADDRESS} or C{connect:ADDRESS}
(see L{txzmq.endpoints}).  Exit status: 0 on success, 1 on a runtime
failure (one line on standard error, no traceback unless C{--verbose}),
2 on a usage error, 130 after Ctrl-C.  SIGTERM stops as cleanly as
Ctrl-C, with status 0.

Every command that touches the network runs in C{react}, with the reactor
passed in; the reactor is chosen with C{--reactor} before it is imported.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import IO, Any, NoReturn, TypeVar

import zmq
from twisted.internet import defer
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.task import LoopingCall, deferLater, react
from twisted.logger import (
    ILogObserver,
    LogEvent,
    LogLevel,
    formatEvent,
    globalLogBeginner,
)
from twisted.python.failure import Failure
from zope.interface import provider

from txzmq._version import __version__
from txzmq.connection import ZmqConnection
from txzmq.endpoints import ZmqEndpoint, ZmqEndpointType, parseEndpoint
from txzmq.errors import ZmqConnectionClosedError
from txzmq.factory import ZmqFactory
from txzmq.monitor import ZmqEvent
from txzmq.pubsub import ZmqSubConnection, ZmqXPubConnection
from txzmq.pushpull import ZmqPullConnection, ZmqPushConnection
from txzmq.req_rep import ZmqREPConnection, ZmqREQConnection
from txzmq.tap import KINDS, MODES

__all__ = ["main"]

PROG = "txzmq"
REACTORS = ("select", "poll", "epoll", "asyncio", "kqueue")
FORMATS = ("text", "raw", "hex", "json")
SOCKET_TYPES = {
    # req and rep are DEALER and ROUTER sockets, as txzmq's REQ and REP
    # connections are: they talk to the same peers.
    "pub": zmq.PUB,
    "sub": zmq.SUB,
    "xpub": zmq.XPUB,
    "xsub": zmq.XSUB,
    "push": zmq.PUSH,
    "pull": zmq.PULL,
    "req": zmq.DEALER,
    "rep": zmq.ROUTER,
    "dealer": zmq.DEALER,
    "router": zmq.ROUTER,
    "pair": zmq.PAIR,
}
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
PROGRESS_INTERVAL = 1.0
"""Seconds between two progress reports."""


class CommandError(Exception):
    """A runtime failure, reported as one line with exit status 1."""


# ---------------------------------------------------------------------------
# Argument types


def _endpoint(text: str) -> ZmqEndpoint:
    try:
        endpoint = parseEndpoint(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    if endpoint.address.startswith("inproc://"):
        raise argparse.ArgumentTypeError(
            f"{text!r}: inproc addresses only work inside one process; use tcp or ipc"
        )
    return endpoint


_N = TypeVar("_N", int, float)


def _number(
    convert: Callable[[str], _N],
    what: str,
    valid: Callable[[_N], bool],
    invalid: str,
) -> Callable[[str], _N]:
    """
    An argument type: C{convert} the text (else "not WHAT"), then check
    it is C{valid} (else C{invalid}, formatted with C{text} and C{value}).
    """

    def parse(text: str) -> _N:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None
        if not valid(value):
            raise argparse.ArgumentTypeError(invalid.format(text=text, value=value))
        return value

    return parse


_positiveInt = _number(
    int, "a whole number", lambda n: n >= 1, "must be at least 1, got {value}"
)
_nonNegativeInt = _number(
    int, "a whole number", lambda n: n >= 0, "must be 0 or more, got {value}"
)
_seconds = _number(
    float,
    "a number of seconds",
    lambda s: 0 <= s < float("inf"),
    "must be 0 or more seconds, got {text}",
)


def _bytes(text: str) -> bytes:
    """A command-line argument as the bytes the user typed."""
    return os.fsencode(text)


# ---------------------------------------------------------------------------
# The parser


def _commonOptions() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("general options")
    group.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="say more on standard error: bound and connected addresses, "
        "subscriptions, warnings and tracebacks",
    )
    group.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="report progress on standard error every second (default: when "
        "standard error is a terminal and standard output is not)",
    )
    group.add_argument(
        "--reactor",
        choices=REACTORS,
        help="Twisted reactor to use (default: the platform's)",
    )
    return common


def _socketOptions() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("socket options")
    group.add_argument(
        "-e",
        "--endpoint",
        dest="more",
        action="append",
        type=_endpoint,
        default=[],
        metavar="ENDPOINT",
        help="another endpoint to bind or connect (repeatable)",
    )
    group.add_argument(
        "--hwm",
        type=_nonNegativeInt,
        metavar="N",
        help="high-water mark, in messages (default 1000; 0: unlimited)",
    )
    group.add_argument(
        "--linger",
        type=_nonNegativeInt,
        default=1000,
        metavar="MS",
        help="milliseconds to keep trying to deliver unsent messages at exit "
        "(default 1000)",
    )
    group.add_argument(
        "--curve-server",
        metavar="CERT",
        help="be a CURVE server with the secret key of CERT (NAME.key_secret, "
        "as written by 'txzmq keygen --dir')",
    )
    group.add_argument(
        "--curve-client",
        metavar="SERVER",
        help="be a CURVE client of the server whose public key is in the "
        "certificate SERVER (or given as 40 Z85 characters)",
    )
    group.add_argument(
        "--curve-cert",
        metavar="CERT",
        help="the CURVE client's own keypair (NAME.key_secret; default: a new one)",
    )
    return options


def _countOption(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "-n", "--count", type=_positiveInt, metavar="N", help=f"exit after N {what}"
    )


def _receiveOptions(parser: argparse.ArgumentParser) -> None:
    _countOption(parser, "messages")
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="fail when no message comes for SECONDS (default 0: wait forever)",
    )
    _formatOption(parser)


def _formatOption(
    parser: argparse.ArgumentParser,
    choices: Sequence[str] = FORMATS,
    help: str = "text: UTF-8, control characters escaped (default); raw: the "
    "bytes as they are; hex; json: one object per line",
) -> None:
    parser.add_argument("-f", "--format", choices=choices, default="text", help=help)


def _sendOptions(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "messages",
        nargs="*",
        metavar="MESSAGE",
        help="messages to send; without any, each line of standard input is one",
    )
    parser.add_argument(
        "--interval",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="pause between two messages",
    )


def _waitOptions(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--wait-timeout",
        type=_seconds,
        default=10.0,
        metavar="SECONDS",
        help=f"seconds to wait for {what} before sending (default 10; 0: forever)",
    )
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help=f"send at once, without waiting for {what}",
    )


def _buildParsers() -> tuple[
    argparse.ArgumentParser, dict[str, argparse.ArgumentParser]
]:
    """The C{txzmq} parser, and the parser of each command by name."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="A netcat for ZeroMQ, on Twisted: send, receive, proxy "
        "and monitor ZeroMQ messages from the command line.",
        epilog="ENDPOINT is bind:ADDRESS or connect:ADDRESS, such as "
        "bind:tcp://*:5555 or connect:ipc:///tmp/sock.  Exit status: 0 "
        "success, 1 failure, 2 usage error, 130 interrupted.  "
        "'txzmq COMMAND --help' describes a command.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    common, socketOptions = _commonOptions(), _socketOptions()

    def add(name: str, help: str, socket: bool = True) -> Any:
        """A command; with C{socket}, the socket options and an ENDPOINT."""
        parents = [socketOptions, common] if socket else [common]
        command = commands.add_parser(
            name, help=help, description=help, parents=parents
        )
        if socket:
            command.add_argument("endpoint", type=_endpoint, metavar="ENDPOINT")
        return command

    sub = add("sub", "print published messages as they arrive")
    sub.add_argument(
        "-t",
        "--topic",
        action="append",
        type=_bytes,
        default=[],
        help="receive messages whose topic starts with TOPIC (repeatable; "
        "default: every message)",
    )
    _receiveOptions(sub)

    pub = add("pub", "publish messages (arguments, or lines of standard input)")
    pub.add_argument(
        "-t", "--topic", type=_bytes, default=b"", help="topic of the messages"
    )
    _sendOptions(pub)
    _waitOptions(pub, "a subscriber to the topic")

    push = add("push", "push messages (arguments, or lines of standard input)")
    _sendOptions(push)
    _waitOptions(push, "a connected peer")

    pull = add("pull", "print pushed messages as they arrive")
    _receiveOptions(pull)

    req = add(
        "req",
        "send requests (arguments, or lines of standard input) and print the replies",
    )
    _sendOptions(req)
    req.add_argument(
        "--timeout",
        type=_seconds,
        default=10.0,
        metavar="SECONDS",
        help="seconds to wait for each reply (default 10; 0: forever)",
    )
    _formatOption(req)

    rep = add("rep", "answer requests, printing each")
    answer = rep.add_mutually_exclusive_group(required=True)
    answer.add_argument(
        "--echo", action="store_true", help="reply with the request itself"
    )
    answer.add_argument("--reply", type=_bytes, metavar="TEXT", help="reply with TEXT")
    _receiveOptions(rep)

    proxy = add(
        "proxy",
        "run a device (queue, forwarder or streamer) between two sockets",
        socket=False,
    )
    proxy.add_argument(
        "-k",
        "--kind",
        choices=tuple(KINDS),
        required=True,
        help="queue: ROUTER to DEALER; forwarder: XSUB to XPUB; streamer: PULL to PUSH",
    )
    for side in ("frontend", "backend"):
        proxy.add_argument(
            f"--{side}",
            action="append",
            type=_endpoint,
            required=True,
            metavar="ENDPOINT",
            help=f"endpoint of the {side} socket (repeatable)",
        )
    proxy.add_argument(
        "--monitor",
        action="append",
        type=_endpoint,
        default=[],
        metavar="ENDPOINT",
        help="endpoint of a PUB socket that gets a copy of every message, "
        "prefixed with 'in' or 'out' (repeatable)",
    )
    proxy.add_argument(
        "--mode",
        choices=tuple(MODES),
        default="reactor",
        help="run it on the reactor (default), in a thread, or in a child process",
    )
    proxy.add_argument(
        "--hwm", type=_nonNegativeInt, metavar="N", help="high-water mark"
    )

    monitor = add(
        "monitor",
        "open a socket and print its connection events as they come",
    )
    monitor.add_argument(
        "--type",
        choices=sorted(SOCKET_TYPES),
        default="sub",
        help="socket type (default sub); messages it receives are dropped",
    )
    _countOption(monitor, "events")
    _formatOption(
        monitor, ("text", "json"), "one event per line, as text (default) or JSON"
    )

    keygen = commands.add_parser(
        "keygen",
        help="make a CURVE keypair",
        description="Make a CURVE keypair: print it, or write it as the "
        "certificate files DIR/NAME.key (public) and DIR/NAME.key_secret.",
    )
    keygen.add_argument("--dir", type=Path, help="write certificate files here")
    keygen.add_argument(
        "--name", help="base name of the certificate files (with --dir)"
    )
    keygen.add_argument(
        "--force", action="store_true", help="overwrite existing certificate files"
    )
    _formatOption(keygen, ("text", "json"), "how to print the keys or file names")

    commands.add_parser(
        "bench",
        add_help=False,
        help="run the benchmarks (python -m benchmarks, from a source "
        "checkout); 'txzmq bench --help' lists their options",
    )
    commands.add_parser(
        "demo",
        add_help=False,
        help="run the demo: every pattern over tcp and ipc (python -m "
        "txzmq.demo); 'txzmq demo --help' lists its options",
    )
    return parser, dict(commands.choices)


def parseArguments(args: Sequence[str]) -> argparse.Namespace:
    """
    Parse the arguments of a reactor command or C{keygen} (exits with
    status 2 on a usage error).  Options and positional arguments may be
    mixed: C{txzmq pub ENDPOINT --topic news hello} sends C{hello}.
    """
    parser, commands = _buildParsers()
    if not args or args[0] not in commands:
        parser.parse_args(args)  # help, version, or a usage error
        parser.error("give a command")  # pragma: no cover
    command = commands[args[0]]
    options = command.parse_intermixed_args(args[1:])
    options.command = args[0]
    if options.command == "keygen" and options.name is not None and not options.dir:
        command.error("--name needs --dir")
    return options


# ---------------------------------------------------------------------------
# Output


_ESCAPES = {code: f"\\x{code:02x}" for code in [*range(0x20), 0x7F]}
_ESCAPES.update({0x0A: "\\n", 0x0D: "\\r"})
del _ESCAPES[0x09]


def _text(frame: bytes) -> str:
    return frame.decode("utf-8", "backslashreplace").translate(_ESCAPES)


def _jsonFrame(frame: bytes) -> object:
    try:
        return frame.decode("utf-8")
    except UnicodeDecodeError:
        return {"hex": frame.hex()}


def formatMessage(
    frames: Sequence[bytes], format: str, topic: bytes | None = None
) -> bytes:
    """
    One message as printed by C{sub} (with its C{topic}), C{pull},
    C{rep} and C{req}; no trailing newline.

      - C{raw}: the frames as they are, one per line (no topic).
      - C{text}: the frames as UTF-8 joined by spaces, invalid bytes and
        control characters escaped; C{"TOPIC: "} first for a non-empty
        topic.
      - C{hex}: the same, in hexadecimal.
      - C{json}: C{{"topic": T, "message": M}} for C{sub}, C{{"frames":
        [...]}} otherwise; each frame a string, or C{{"hex": "..."}} when
        it is not UTF-8.
    """
    if format == "raw":
        return b"\n".join(frames)
    if format == "json":
        record: dict[str, object]
        if topic is not None:
            record = {"topic": _jsonFrame(topic), "message": _jsonFrame(frames[0])}
        else:
            record = {"frames": [_jsonFrame(frame) for frame in frames]}
        return json.dumps(record, ensure_ascii=False).encode("utf-8")
    show = _text if format == "text" else bytes.hex
    line = " ".join(show(frame) for frame in frames)
    if topic:
        line = f"{show(topic)}: {line}"
    return line.encode("utf-8", "backslashreplace")


class _OutputClosedError(Exception):
    """Standard output was closed by its reader."""


class _Output:
    """
    Lines to a binary stream, flushed once per reactor turn (so a pipe
    sees them at once without a system call per line).
    """

    def __init__(self, reactor: Any, stream: IO[bytes], closed: Callable[[], None]):
        self._reactor = reactor
        self._stream = stream
        self._closed = closed
        self._flushCall: Any = None
        self.broken = False

    def line(self, data: bytes) -> None:
        if self.broken:
            raise _OutputClosedError()
        try:
            self._stream.write(data + b"\n")
        except (BrokenPipeError, ValueError):
            self._broke()
            raise _OutputClosedError() from None
        if self._flushCall is None:
            self._flushCall = self._reactor.callLater(0, self._scheduledFlush)

    def _scheduledFlush(self) -> None:
        self._flushCall = None
        self.flush()

    def flush(self) -> None:
        if self._flushCall is not None:
            self._flushCall.cancel()
            self._flushCall = None
        if self.broken:
            return
        try:
            self._stream.flush()
        except (BrokenPipeError, ValueError):
            self._broke()

    def _broke(self) -> None:
        if self.broken:
            return
        self.broken = True
        # Nobody reads any more: point the descriptor at /dev/null so that
        # the interpreter's own flush at exit does not complain.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass
        self._closed()


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


class _Progress:
    """
    A message count reported on standard error every second, and once at
    the end: in place on a terminal, as lines otherwise.
    """

    def __init__(self, reactor: Any, enabled: bool, verb: str) -> None:
        self.count = 0
        self.enabled = enabled
        self._reactor = reactor
        self._verb = verb
        self._tty = sys.stderr.isatty()
        self._started = time.monotonic()
        self._last = (self._started, 0)
        self._loop: LoopingCall | None = None

    def start(self) -> None:
        if not self.enabled or self._loop is not None:
            return
        self._started = time.monotonic()
        self._last = (self._started, 0)
        self._loop = LoopingCall(self._report)
        self._loop.clock = self._reactor
        self._loop.start(PROGRESS_INTERVAL, now=False)

    def _report(self) -> None:
        now = time.monotonic()
        then, before = self._last
        rate = (self.count - before) / max(now - then, 1e-9)
        self._last = (now, self.count)
        self._show(f"{self._verb} {self.count} messages ({rate:,.0f}/s)")

    def _show(self, text: str, final: bool = False) -> None:
        if self._tty:
            sys.stderr.write(f"\r{text}\x1b[K" + ("\n" if final else ""))
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def finish(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None
        if self.enabled:
            elapsed = time.monotonic() - self._started
            self._show(
                f"{self._verb} {self.count} messages in {elapsed:.1f} s", final=True
            )
            self.enabled = False


# ---------------------------------------------------------------------------
# Logging


def _startLogging(verbose: bool) -> None:
    """Twisted's log to standard error: warnings, and more with --verbose."""
    lowest = LogLevel.debug if verbose else LogLevel.warn

    @provider(ILogObserver)
    def observe(event: LogEvent) -> None:
        level = event.get("log_level", LogLevel.info)
        if level < lowest:
            return
        text = formatEvent(event)
        failure = event.get("log_failure")
        if failure is not None:
            if verbose:
                text = f"{text}\n{failure.getTraceback()}"
            else:
                text = f"{text}: {failure.getErrorMessage()}"
        _err(f"{PROG}: {level.name}: {text}")

    globalLogBeginner.beginLoggingTo([observe], redirectStandardIO=False)


# ---------------------------------------------------------------------------
# Standard input


class _LineReader:
    """
    The lines of a file descriptor, read in a daemon thread with blocking
    reads (so regular files, pipes and terminals all work on every
    reactor) and handed to the reactor a batch at a time, a few batches
    ahead at most.
    """

    def __init__(self, reactor: Any, fd: int = 0, window: int = 4) -> None:
        self._reactor = reactor
        self._fd = fd
        self._room = threading.Semaphore(window)
        self._batches: deque[list[bytes] | OSError | None] = deque()
        self._lines: deque[bytes] = deque()
        self._waiting: Deferred[None] | None = None
        self._done = False

    def start(self) -> None:
        threading.Thread(target=self._read, name="txzmq-stdin", daemon=True).start()

    def _read(self) -> None:
        pending = bytearray()
        try:
            while True:
                chunk = os.read(self._fd, 65536)
                if not chunk:
                    break
                pending += chunk
                end = pending.rfind(b"\n")
                if end >= 0:
                    lines = bytes(pending[:end]).split(b"\n")
                    del pending[: end + 1]
                    self._put(lines)
            if pending:
                self._put([bytes(pending)])
            self._put(None)
        except OSError as e:
            self._put(e)

    def _put(self, item: list[bytes] | OSError | None) -> None:
        self._room.acquire()
        self._reactor.callFromThread(self._arrived, item)

    def _arrived(self, item: list[bytes] | OSError | None) -> None:
        self._batches.append(item)
        waiting, self._waiting = self._waiting, None
        if waiting is not None:
            waiting.callback(None)

    async def next(self) -> bytes | None:
        """The next line (without its newline), or None at the end."""
        while not self._lines:
            if self._done:
                return None
            while not self._batches:
                self._waiting = Deferred()
                await self._waiting
            item = self._batches.popleft()
            self._room.release()
            if item is None:
                self._done = True
            elif isinstance(item, OSError):
                raise CommandError(f"cannot read standard input: {item.strerror}")
            else:
                self._lines.extend(item)
        return self._lines.popleft()


class _ArgumentSource:
    """The messages given as arguments."""

    def __init__(self, messages: Sequence[str]) -> None:
        self._messages = deque(_bytes(m) for m in messages)

    async def next(self) -> bytes | None:
        return self._messages.popleft() if self._messages else None


# ---------------------------------------------------------------------------
# A session: what every reactor command shares


_C = TypeVar("_C", bound=ZmqConnection)


def _isRandomPort(address: str) -> bool:
    transport, _, rest = address.partition("://")
    if transport not in ("tcp", "ws", "wss"):
        return False
    port = rest.rpartition(":")[2].split("/")[0]
    return port in ("*", "0") or port.startswith("!")


class _Session:
    """
    The factory, output and signal handling of one command run by
    C{react}; L{stop} cancels the command with an exit status.
    """

    def __init__(self, reactor: Any, options: argparse.Namespace) -> None:
        self.reactor = reactor
        self.options = options
        self.verbose: bool = getattr(options, "verbose", False)
        self.factory = ZmqFactory(reactor)
        self.output = _Output(reactor, sys.stdout.buffer, lambda: self.stop(0))
        self.exitCode: int | None = None
        self.task: Deferred[None] | None = None
        self.connections: list[ZmqConnection] = []
        self._signalled = False

    # Signals

    def installSignalHandlers(self) -> None:
        """Ctrl-C and SIGTERM stop the command cleanly; twice, at once."""
        signal.signal(signal.SIGINT, self._onSignal)
        signal.signal(signal.SIGTERM, self._onSignal)

    def _onSignal(self, signum: int, frame: FrameType | None) -> None:
        code = EXIT_INTERRUPTED if signum == signal.SIGINT else 0
        if self._signalled:
            os.write(2, f"{PROG}: interrupted again, exiting now\n".encode())
            os._exit(code)
        self._signalled = True
        self.reactor.callFromThread(self.stop, code)

    def stop(self, code: int) -> None:
        """End the command now with the exit status C{code}."""
        if self.exitCode is not None:
            return
        self.exitCode = code
        if self.task is not None and not self.task.called:
            self.task.cancel()

    # Progress

    def progress(self, verb: str, printsToStdout: bool) -> _Progress:
        wanted = self.options.progress
        if wanted is None:
            wanted = sys.stderr.isatty() and not (
                printsToStdout and sys.stdout.isatty()
            )
        return _Progress(self.reactor, wanted, verb)

    # Connections

    def settings(self) -> dict[str, Any]:
        options = self.options
        settings: dict[str, Any] = {"lingerPeriod": options.linger}
        if options.hwm is not None:
            settings["highWaterMark"] = options.hwm
        security = _security(options)
        if security is not None:
            settings["security"] = security
        return settings

    def open(self, cls: Callable[..., _C], **extra: Any) -> _C:
        """
        A connection of class C{cls}, bound or connected to the command's
        endpoints; a bound random port is reported on standard error.
        """
        connection = cls(self.factory, **{**self.settings(), **extra})
        try:
            for endpoint in [self.options.endpoint, *self.options.more]:
                connection.addEndpoints([endpoint])
                if endpoint.type == ZmqEndpointType.bind:
                    bound = connection.socket.getsockopt_string(zmq.LAST_ENDPOINT)
                    if self.verbose or _isRandomPort(endpoint.address):
                        _err(f"bound {bound}")
                elif self.verbose:
                    _err(f"connecting to {endpoint.address}")
        except BaseException:
            connection.shutdown()
            raise
        self.connections.append(connection)
        return connection

    def close(self) -> Deferred[None]:
        """
        Shut the connections down, then the factory (its context is
        terminated in a thread, so a linger never blocks the reactor).
        """
        # Each connection first: ZmqFactory.shutdown() closes connections
        # in no particular order, and closing a monitored connection after
        # its monitor reader blocks in libzmq (disable_monitor() sends on a
        # PAIR socket that no longer has a peer).
        for connection in reversed(self.connections):
            connection.shutdown()
        return self.factory.terminate()


def _security(options: argparse.Namespace) -> Any:
    """The CURVE mechanism the options ask for, or None."""
    server, client, own = options.curve_server, options.curve_client, options.curve_cert
    if server is None and client is None:
        if own is not None:
            raise CommandError("--curve-cert needs --curve-client")
        return None
    if server is not None and client is not None:
        raise CommandError("give --curve-server or --curve-client, not both")
    if not zmq.has("curve"):
        raise CommandError("this libzmq has no CURVE support")
    from txzmq.security import CurveClient, CurveServer, generateKeypair

    if server is not None:
        _, secret = _readKeypair(
            server, "a CURVE server needs its NAME.key_secret file"
        )
        return CurveServer(secret)
    serverKey: str | bytes
    if len(client) == 40 and not os.path.exists(client):
        serverKey = client  # checked by CurveClient, non-ASCII included
    else:
        serverKey, _ = _readCertificate(client)
    if own is not None:
        public, secret = _readKeypair(own, "give NAME.key_secret")
    else:
        public, secret = generateKeypair()
    try:
        return CurveClient(serverKey, public, secret)
    except (TypeError, ValueError) as e:
        raise CommandError(f"--curve-client: {e}") from None


def _readCertificate(path: str) -> tuple[bytes, bytes | None]:
    from txzmq.security import loadCertificate

    try:
        return loadCertificate(path)
    except (OSError, ValueError) as e:
        detail = getattr(e, "strerror", None) or str(e)
        raise CommandError(f"cannot read the certificate {path}: {detail}") from None


def _readKeypair(path: str, advice: str) -> tuple[bytes, bytes]:
    """A certificate that must hold a secret key (else: C{advice})."""
    public, secret = _readCertificate(path)
    if secret is None:
        raise CommandError(f"{path} holds no secret key; {advice}")
    return public, secret


# ---------------------------------------------------------------------------
# Receiving commands


async def _receive(
    session: _Session,
    connection: ZmqConnection,
    handle: Callable[[Any], None],
    verb: str = "received",
) -> None:
    """Hand each message to C{handle} until C{--count} or a stop."""
    options = session.options
    limit: int | None = options.count
    progress = session.progress(verb, printsToStdout=True)
    progress.start()
    try:
        while limit is None or progress.count < limit:
            d = connection.receive()
            if options.timeout:
                d.addTimeout(options.timeout, session.reactor)
            try:
                item = await d
            except defer.TimeoutError:
                raise CommandError(
                    f"no message for {options.timeout:g} s ({progress.count} received)"
                ) from None
            except ZmqConnectionClosedError:
                return
            progress.count += 1
            handle(item)
    finally:
        progress.finish()


async def _sub(session: _Session) -> None:
    options = session.options
    sub = session.open(ZmqSubConnection)
    for topic in options.topic or [b""]:
        sub.subscribe(topic)
        if session.verbose:
            _err(f"subscribed to {_text(topic)!r}")
    output, fmt = session.output, options.format

    def show(item: tuple[bytes, bytes]) -> None:
        message, tag = item
        output.line(formatMessage([message], fmt, tag))

    await _receive(session, sub, show)


async def _pull(session: _Session) -> None:
    options = session.options
    pull = session.open(ZmqPullConnection)
    output, fmt = session.output, options.format
    await _receive(
        session, pull, lambda frames: output.line(formatMessage(frames, fmt))
    )


async def _rep(session: _Session) -> None:
    options = session.options
    rep = session.open(ZmqREPConnection)
    output, fmt = session.output, options.format
    answer: bytes | None = options.reply

    def serve(item: tuple[bytes, ...]) -> None:
        messageId, *frames = item
        output.line(formatMessage(frames, fmt))
        rep.reply(messageId, *(frames if answer is None else [answer]))

    await _receive(session, rep, serve, verb="answered")


# ---------------------------------------------------------------------------
# Sending commands


class _Publisher(ZmqXPubConnection):
    """An XPUB socket whose subscriptions are only logged."""

    verbose = False

    def gotSubscription(self, tag: bytes, subscribed: bool) -> None:
        if self.verbose:
            what = "subscribed to" if subscribed else "unsubscribed from"
            _err(f"a subscriber {what} {_text(tag)!r}")


def _source(session: _Session) -> Any:
    if session.options.messages:
        return _ArgumentSource(session.options.messages)
    if sys.stdin is not None and sys.stdin.isatty():
        _err(f"{PROG}: one message per line; Ctrl-D ends, Ctrl-C stops")
    reader = _LineReader(session.reactor)
    reader.start()
    return reader


async def _sendAll(session: _Session, send: Callable[[bytes], Any]) -> None:
    """Send each message of the source with C{send} (may return a Deferred)."""
    options = session.options
    source = _source(session)
    progress = session.progress("sent", printsToStdout=False)
    progress.start()
    try:
        while True:
            message = await source.next()
            if message is None:
                break
            if options.interval and progress.count:
                await deferLater(session.reactor, options.interval)
            result = send(message)
            if isinstance(result, Deferred):
                await result
            progress.count += 1
    finally:
        progress.finish()
    if session.verbose:
        _err(f"sent {progress.count} messages")


async def _waitFor(session: _Session, d: Deferred[Any], what: str) -> None:
    timeout = session.options.wait_timeout
    if timeout:
        d.addTimeout(timeout, session.reactor)
    try:
        await d
    except defer.TimeoutError:
        raise CommandError(
            f"no {what} within {timeout:g} s (see --wait-timeout, --no-wait)"
        ) from None


async def _pub(session: _Session) -> None:
    options = session.options
    pub = session.open(_Publisher)
    pub.verbose = session.verbose
    topic: bytes = options.topic
    if not options.no_wait:
        await _waitFor(
            session,
            pub.whenSubscribed(topic),
            f"subscriber to the topic {_text(topic)!r}",
        )
    await _sendAll(session, lambda message: pub.publishDeferred(message, topic))


async def _push(session: _Session) -> None:
    options = session.options
    push = session.open(ZmqPushConnection, monitorEvents=zmq.EVENT_ALL)
    if not options.no_wait:
        await _waitFor(session, push.whenConnected(), "peer connected")
    await _sendAll(session, push.pushDeferred)


async def _req(session: _Session) -> None:
    options = session.options
    req = session.open(ZmqREQConnection)
    output, fmt = session.output, options.format
    timeout: float | None = options.timeout or None

    async def ask(message: bytes) -> None:
        try:
            reply = await req.sendMsg(message, timeout=timeout)
        except TimeoutError:
            raise CommandError(f"no reply within {timeout:g} s") from None
        output.line(formatMessage(reply, fmt))

    await _sendAll(session, lambda message: Deferred.fromCoroutine(ask(message)))


# ---------------------------------------------------------------------------
# proxy and monitor


async def _proxy(session: _Session) -> None:
    options = session.options
    settings = {} if options.hwm is None else {"highWaterMark": options.hwm}
    device = MODES[options.mode](
        session.factory,
        KINDS[options.kind],
        options.frontend,
        options.backend,
        options.monitor or None,
        **settings,
    )
    try:
        await device.start()
        for side in ("frontend", "backend", "monitor"):
            for address in device.addresses.get(side, []):
                session.output.line(f"{side} bound {address}".encode())
        session.output.flush()
        _err(
            f"{PROG}: {options.kind} proxy running ({options.mode} mode); "
            "Ctrl-C stops it"
        )
        await device.whenStopped()
        if session.exitCode is None:
            raise CommandError("the proxy stopped")
    finally:
        await device.stop()


class _Monitored(ZmqConnection):
    """Any socket type; what it receives is dropped."""

    def messageReceived(self, message: list[bytes]) -> None:
        pass


def _formatEvent(event: ZmqEvent, format: str) -> bytes:
    if format == "json":
        record = {
            "event": (event.kind.name or str(int(event.kind))).lower(),
            "endpoint": event.endpoint,
            "value": event.value,
        }
        if event.reason:
            record["reason"] = event.reason
        return json.dumps(record).encode("utf-8")
    return str(event).encode("utf-8", "backslashreplace")


async def _monitor(session: _Session) -> None:
    options = session.options
    socketType = SOCKET_TYPES[options.type]
    cls = type(
        f"_Monitored_{options.type}",
        (_Monitored,),
        {
            "socketType": socketType,
            "_canReceive": socketType not in (zmq.PUB, zmq.PUSH),
        },
    )
    limit: int | None = options.count
    done: Deferred[None] = Deferred()
    seen = 0

    def show(event: ZmqEvent) -> None:
        nonlocal seen
        if done.called:
            return
        seen += 1
        try:
            session.output.line(_formatEvent(event, options.format))
        except _OutputClosedError:
            return
        if limit is not None and seen >= limit:
            done.callback(None)

    # Monitoring starts before the endpoints are added (monitorEvents), and
    # no event is delivered before the reactor's next turn: none is missed.
    connection = session.open(cls, monitorEvents=zmq.EVENT_ALL)
    connection.addEventObserver(show)
    await done


# ---------------------------------------------------------------------------
# Running a reactor command


COMMANDS: dict[str, Callable[[_Session], Any]] = {
    "sub": _sub,
    "pub": _pub,
    "push": _push,
    "pull": _pull,
    "req": _req,
    "rep": _rep,
    "proxy": _proxy,
    "monitor": _monitor,
}


def _describe(error: BaseException) -> str:
    if isinstance(error, (CommandError, zmq.ZMQError)):
        return str(error)
    if isinstance(error, OSError) and error.strerror:
        return error.strerror + (f": {error.filename}" if error.filename else "")
    return f"{type(error).__name__}: {error}"


async def _run(reactor: Any, options: argparse.Namespace) -> None:
    """The body of C{react}: run the command, report, clean up."""
    session = _Session(reactor, options)
    # Now, since a command may say it is ready before the reactor runs; and
    # again once it runs, since the reactor installs its own at startup.
    session.installSignalHandlers()
    reactor.callWhenRunning(session.installSignalHandlers)
    task: Deferred[None] = Deferred.fromCoroutine(COMMANDS[options.command](session))
    session.task = task
    code = 0
    try:
        await task
    except (CancelledError, _OutputClosedError):
        pass
    except Exception as e:
        _err(f"{PROG} {options.command}: error: {_describe(e)}")
        if session.verbose:
            sys.stderr.write(Failure().getTraceback())
        code = EXIT_FAILURE
    finally:
        session.output.flush()
        await session.close()
    if session.exitCode is not None and code == 0:
        code = session.exitCode
    if code:
        raise SystemExit(code)


def _installReactor(name: str | None) -> None:
    if name is None:
        return
    from twisted.application.reactors import NoSuchReactor, installReactor

    try:
        installReactor(name)
    except NoSuchReactor:
        _fail(f"no reactor named {name!r}", EXIT_USAGE)
    except Exception as e:
        _fail(f"cannot install the {name} reactor: {e}")


def _fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    _err(f"{PROG}: error: {message}")
    sys.exit(code)


# ---------------------------------------------------------------------------
# Commands without a reactor of their own


def _keygen(options: argparse.Namespace) -> int:
    if not zmq.has("curve"):
        _fail("this libzmq has no CURVE support")
    from txzmq.security import createCertificates, generateKeypair

    def show(public: str, secret: str) -> int:
        if options.format == "json":
            print(json.dumps({"public": public, "secret": secret}))
        else:
            print(f"public: {public}")
            print(f"secret: {secret}")
        return 0

    if options.dir is None:
        public, secret = generateKeypair()
        return show(public.decode(), secret.decode())
    name = options.name or "txzmq"
    directory: Path = options.dir
    paths = [directory / f"{name}.key", directory / f"{name}.key_secret"]
    existing = [str(p) for p in paths if p.exists()]
    if existing and not options.force:
        verb = "exists" if len(existing) == 1 else "exist"
        _fail(f"{' and '.join(existing)} already {verb}; --force overwrites")
    try:
        public_file, secret_file = createCertificates(directory, name)
        os.chmod(secret_file, 0o600)
    except OSError as e:
        _fail(f"cannot write certificates in {directory}: {e.strerror or e}")
    return show(public_file, secret_file)


def _sourceRoot() -> Path:
    """The directory above the txzmq package: a checkout's root."""
    return Path(__file__).resolve().parent.parent


_RUN_BENCHMARKS = (
    "import runpy, sys; sys.path.insert(0, sys.argv.pop(1)); "
    "runpy.run_module('benchmarks', run_name='__main__', alter_sys=True)"
)


def _bench(args: Sequence[str]) -> int:
    import subprocess

    root = _sourceRoot()
    if not (root / "benchmarks" / "__main__.py").is_file():
        _fail(
            f"no benchmarks here: they live in txzmq's source checkout "
            f"(looked for {root / 'benchmarks'}); run txzmq from a checkout"
        )
    # The working directory stays the caller's, so that relative paths
    # (--json out.json) mean what they say; the checkout goes first on
    # sys.path so that its benchmarks package is the one run.
    command = [sys.executable, "-c", _RUN_BENCHMARKS, str(root), *args]
    process = subprocess.Popen(command)
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt:
            # The benchmarks got the Ctrl-C too: let them stop.
            continue


def _demo(args: Sequence[str]) -> NoReturn:
    from txzmq import demo

    options = demo.parseArguments(args)  # exits 2 on a usage error
    _installReactor(options.reactor)
    react(demo.main, list(args))


# ---------------------------------------------------------------------------
# The entry point


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Run the C{txzmq} command with C{argv} (default: C{sys.argv[1:]})."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args and args[0] == "bench":
            sys.exit(_bench(args[1:]))
        if args and args[0] == "demo":
            _demo(args[1:])
        options = parseArguments(args)
        if options.command == "keygen":
            sys.exit(_keygen(options))
        _startLogging(options.verbose)
        _installReactor(options.reactor)
        react(_run, [options])
    except KeyboardInterrupt:
        # Ctrl-C before the reactor ran (while importing, say).
        sys.exit(EXIT_INTERRUPTED)
