"""
python -m benchmarks [options]

Measure txzmq, blocking pyzmq, zmq.asyncio and txZMQ 1.0 side by side,
over tcp on 127.0.0.1 (and ipc), sender and receiver in separate
processes, HWM 1000.  Prints a table of medians, ratios to blocking
pyzmq, CPU microseconds per message and peak RSS of each process.

Scenarios (--scenarios, comma separated):
{scenarios}

Peer kinds (--peers): txzmq (this repository), blocking (pyzmq, no event
loop), aio (zmq.asyncio), txzmq1 (txZMQ 1.0 from PyPI, in its own
virtualenv benchmarks/.venv-txzmq1, created on first use; reported as
unavailable when it cannot be created).

--quick is the smoke mode: tiny counts, one repeat, txzmq and blocking
pyzmq only; it runs every scenario in well under a minute.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks.report import header, table
from benchmarks.runner import Runner, Settings, dumpJson, environment, summarize
from benchmarks.scenarios import PEER_KINDS, SCENARIOS

REACTORS = ("epoll", "asyncio", "poll", "select", "default")
SEND_MODES = ("auto", "retry", "deferred", "producer")
QUICK_KINDS = ["txzmq", "blocking"]
QUICK_FLOW_MESSAGES = 5_000
QUICK_TIMEOUT = 30.0


def _list(text: str, allowed: Sequence[str], what: str) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [item for item in items if item not in allowed]
    if unknown or not items:
        raise argparse.ArgumentTypeError(
            f"unknown {what}: {', '.join(unknown) or '(none)'}; "
            f"choose from {', '.join(allowed)}"
        )
    return items


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def parser() -> argparse.ArgumentParser:
    keys = [s.key for s in SCENARIOS]
    described = "\n".join(f"  {s.key:<18} {s.title}" for s in SCENARIOS)
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=(__doc__ or "").format(scenarios=described),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--quick", action="store_true", help="smoke mode (see above)")
    p.add_argument(
        "--repeats", type=_positive, default=3, help="runs per scenario and peer (3)"
    )
    p.add_argument(
        "--reactor",
        choices=REACTORS,
        default="epoll",
        help="Twisted reactor of the txzmq and txZMQ 1.0 peers (epoll)",
    )
    p.add_argument(
        "--peers",
        type=lambda t: _list(t, PEER_KINDS, "peer kind"),
        help=f"peer kinds to run (default: {','.join(PEER_KINDS)})",
    )
    p.add_argument(
        "--scenarios",
        type=lambda t: _list(t, keys, "scenario"),
        help="scenarios to run (default: all)",
    )
    p.add_argument(
        "--flow-messages",
        type=_positive,
        help="messages of the flow-control scenario (1,000,000; --quick 5,000)",
    )
    p.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply the message counts of the other scenarios (1.0)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        help="seconds before a run is reported as a stall (120; --quick 30)",
    )
    p.add_argument(
        "--txzmq-send",
        choices=SEND_MODES,
        default="auto",
        help="how the txzmq PUSH sender waits at the HWM (auto: a streaming "
        "producer when available)",
    )
    p.add_argument(
        "--txzmq-window",
        type=_positive,
        default=100,
        help="queued messages at which the pushDeferred sender waits for the "
        "Deferred of its last message (100; at most maxQueuedMessages)",
    )
    p.add_argument(
        "--txzmq1-venv",
        type=Path,
        default=Settings().venv,
        help="virtualenv for txZMQ 1.0 (benchmarks/.venv-txzmq1)",
    )
    p.add_argument("--json", type=Path, help="also write every result to this file")
    p.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="run the txzmq and txZMQ 1.0 processes under cProfile and write "
        "one .prof file per process into DIR (slows them down)",
    )
    return p


def settingsFrom(options: argparse.Namespace) -> Settings:
    settings = Settings(
        quick=options.quick,
        repeats=1 if options.quick else options.repeats,
        reactor=options.reactor,
        kinds=options.peers or (QUICK_KINDS if options.quick else list(PEER_KINDS)),
        scenarios=options.scenarios or [s.key for s in SCENARIOS],
        scale=options.scale,
        txzmqSend=options.txzmq_send,
        txzmqWindow=options.txzmq_window,
        venv=options.txzmq1_venv,
        profile=options.profile,
    )
    if options.profile:
        options.profile.mkdir(parents=True, exist_ok=True)
    if options.flow_messages:
        settings.flowMessages = options.flow_messages
    elif options.quick:
        settings.flowMessages = QUICK_FLOW_MESSAGES
    if options.timeout:
        settings.timeout = options.timeout
    elif options.quick:
        settings.timeout = QUICK_TIMEOUT
    return settings


def main(argv: Sequence[str]) -> int:
    options = parser().parse_args(argv)
    settings = settingsFrom(options)
    env = environment(settings)
    runner = Runner(settings)
    try:
        runner.prepare()
        for kind in ("txzmq", "blocking"):
            if kind in settings.kinds and kind in runner.unavailable:
                print(f"error: {kind} must always run: {runner.unavailable[kind]}")
                return 2
        total = settings.repeats * len(settings.scenarios)
        print(
            f"running {total} scenario rounds "
            f"({', '.join(k for k in settings.kinds if k in runner.pythons)})",
            file=sys.stderr,
        )
        runner.run()
    finally:
        runner.close()
    summary = summarize(runner.results)
    print()
    print(header(env, runner.paces))
    print(table(summary, settings.scenarios, runner.unavailable))
    if options.json:
        dumpJson(options.json, env, settings, runner)
    bad = [r for r in runner.results if r.status != "ok"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
