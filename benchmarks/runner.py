"""
Orchestration: start the two processes of each run, relay their signals,
enforce the per-run timeout, alternate the peers, take medians.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from benchmarks.scenarios import (
    BY_KEY,
    CALIBRATION_COUNT,
    HWM,
    PACE_FRACTION,
    PEER_KINDS,
    SCENARIOS,
    TWISTED_KINDS,
    Scenario,
)
from benchmarks.venvs import Unavailable, txzmq1Python

HERE = Path(__file__).resolve().parent
LAUNCH = HERE / "peers" / "launch.py"
MODULES = {
    "txzmq": "twisted_peer",
    "txzmq1": "twisted_peer",
    "blocking": "blocking",
    "aio": "aio",
}
READY_TIMEOUT = 30.0
"""Seconds the binder has to bind and say where."""
STOP_GRACE = 10.0
"""Seconds the processes have to report and exit once told to stop."""


@dataclass
class Settings:
    """What the command line asked for."""

    quick: bool = False
    repeats: int = 3
    reactor: str = "epoll"
    kinds: list[str] = field(default_factory=lambda: list(PEER_KINDS))
    scenarios: list[str] = field(default_factory=lambda: [s.key for s in SCENARIOS])
    flowMessages: int = 1_000_000
    scale: float = 1.0
    timeout: float = 120.0
    txzmqSend: str = "auto"
    txzmqWindow: int = 100
    """Queued messages at which the pushDeferred sender waits."""
    venv: Path = HERE / ".venv-txzmq1"
    python: str = sys.executable
    profile: Path | None = None
    """Directory for cProfile files of the Twisted peers, or None."""


@dataclass
class PeerSpec:
    kind: str
    role: str
    config: dict[str, Any]


@dataclass
class RunResult:
    """One run of one scenario for one peer kind (or variant)."""

    scenario: str
    label: str
    repeat: int
    status: str
    """ok, stall (timed out), error, or lost (loss or disorder)."""
    value: float | None = None
    binder: dict[str, Any] | None = None
    connector: dict[str, Any] | None = None
    other: dict[str, Any] | None = None
    """A device scenario's third process (the PUB sender, the worker)."""
    message: str = ""
    wall_s: float = 0.0
    stderr: dict[str, str] = field(default_factory=dict)
    """The end of a process's stderr, kept when something went wrong."""

    def side(self, name: str) -> dict[str, Any] | None:
        if name == "other":
            return self.other
        return self.binder if name == "binder" else self.connector

    def receiver(self) -> dict[str, Any] | None:
        """The result holding the sequence check (it has "expected")."""
        for result in (self.binder, self.connector):
            if result is not None and "expected" in result:
                return result
        return None


class Child:
    """One peer process; its JSON lines go to the run's event queue."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        cwd: str,
        events: queue.Queue[tuple[str, dict[str, Any]]],
    ) -> None:
        self.name = name
        self.result: dict[str, Any] | None = None
        self.exited = False
        self._stderr: IO[bytes] = tempfile.TemporaryFile()
        env = dict(os.environ)
        for variable in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP"):
            env.pop(variable, None)
        self.proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
        )
        self._events = events
        threading.Thread(target=self._read, name=f"read-{name}", daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                event = {"event": "output", "line": line.rstrip()}
            if not isinstance(event, dict):
                event = {"event": "output", "line": line.rstrip()}
            self._events.put((self.name, event))
        self._events.put((self.name, {"event": "exit"}))

    def say(self, line: str) -> None:
        """Write a line to the peer's stdin (ignored once it is gone)."""
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except (OSError, ValueError):
            pass

    def stop(self) -> None:
        """Close the peer's stdin: its signal to report and exit."""
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        except (OSError, ValueError):
            pass

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def stderrTail(self, limit: int = 1500) -> str:
        try:
            self._stderr.seek(0)
            text = self._stderr.read().decode(errors="replace")
        except (OSError, ValueError):
            return ""
        return text[-limit:].strip()

    def close(self) -> None:
        self.kill()
        self._stderr.close()


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


class Runner:
    """Run the scenarios the settings ask for; collect L{RunResult}s."""

    def __init__(
        self,
        settings: Settings,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.log = log or (lambda text: print(text, file=sys.stderr, flush=True))
        self.pythons: dict[str, str] = {}
        self.unavailable: dict[str, str] = {}
        self.results: list[RunResult] = []
        self.paces: list[float] = []
        self._tmp = tempfile.mkdtemp(prefix="txzmq-bench-")
        self._ipc = 0

    # Setup

    def prepare(self) -> None:
        """Find an interpreter for every kind asked for, or say why not."""
        for kind in self.settings.kinds:
            try:
                self.pythons[kind] = self._python(kind)
            except Unavailable as e:
                self.unavailable[kind] = str(e)
                self.log(f"{kind}: unavailable: {e}")

    def _python(self, kind: str) -> str:
        if kind == "txzmq1":
            return str(txzmq1Python(self.settings.venv, self.log))
        probe = {
            "txzmq": "import txzmq, twisted",
            "blocking": "import zmq",
            "aio": "import zmq.asyncio, asyncio",
        }[kind]
        done = subprocess.run(
            [self.settings.python, "-c", probe],
            capture_output=True,
            text=True,
            cwd=self._tmp,
            timeout=60,
        )
        if done.returncode != 0:
            raise Unavailable(done.stderr.strip()[-300:])
        return self.settings.python

    def close(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)

    # Counts and configs

    def count(self, scenario: Scenario) -> int:
        if scenario.key == "flow":
            return self.settings.flowMessages
        if self.settings.quick:
            return scenario.quickCount
        return max(int(scenario.count * self.settings.scale), 1)

    def address(self, scenario: Scenario) -> str:
        if scenario.transport == "ipc":
            self._ipc += 1
            return f"ipc://{self._tmp}/{scenario.key}-{self._ipc}.sock"
        return "tcp://127.0.0.1:*"

    def common(self, scenario: Scenario, **more: Any) -> dict[str, Any]:
        """The configuration every process of a run of C{scenario} gets."""
        return {
            "hwm": HWM,
            "size": scenario.size,
            "count": self.count(scenario),
            "reactor": self.settings.reactor,
            **more,
            **scenario.config,
        }

    def specs(
        self, scenario: Scenario, label: str, pace: float | None
    ) -> tuple[PeerSpec, PeerSpec]:
        common = self.common(scenario)
        variant = next((v for v in scenario.variants if v.label == label), None)
        kind = variant.kind if variant else label
        binder = PeerSpec(
            scenario.binderKind or kind,
            scenario.binderRole,
            {**common, "role": scenario.binderRole, "bind": True},
        )
        connector = PeerSpec(
            variant.kind if variant else scenario.connectorKind or kind,
            scenario.connectorRole,
            {**common, "role": scenario.connectorRole, "bind": False},
        )
        if variant:
            connector.config.update(variant.config)
        binder.config["address"] = self.address(scenario)
        if connector.kind == "txzmq" and connector.role == "push":
            connector.config["mode"] = self.settings.txzmqSend
        if connector.kind == "txzmq":
            connector.config["window"] = self.settings.txzmqWindow
        if pace is not None:
            binder.config["pace"] = pace
        return binder, connector

    def deviceSpecs(
        self, scenario: Scenario, label: str
    ) -> tuple[PeerSpec, PeerSpec, PeerSpec]:
        """The device (the variant's kind) and its two blocking endpoints."""
        variant = next(v for v in scenario.variants if v.label == label)
        common = self.common(scenario, device=scenario.device, bind=False)
        device = PeerSpec(
            variant.kind,
            "device",
            {**common, **variant.config, "role": "device", "bind": True},
        )
        connector = PeerSpec(
            "blocking",
            scenario.connectorRole,
            {**common, "role": scenario.connectorRole},
        )
        other = PeerSpec(
            "blocking", scenario.otherRole, {**common, "role": scenario.otherRole}
        )
        return device, connector, other

    def timeout(self, scenario: Scenario, pace: float | None) -> float:
        if pace:
            return max(self.settings.timeout, self.count(scenario) / pace * 1.5 + 60)
        return self.settings.timeout

    # Running

    def labels(self, scenario: Scenario, repeat: int) -> list[str]:
        """Who runs, rotated by the repeat so that no kind always goes first."""
        if scenario.variants:
            labels = [v.label for v in scenario.variants if v.kind in self.pythons]
            if scenario.binderKind and scenario.binderKind not in self.pythons:
                return []
            if scenario.device and "blocking" not in self.pythons:
                return []
        else:
            labels = [k for k in scenario.kinds if k in self.pythons]
            if scenario.connectorKind and scenario.connectorKind not in self.pythons:
                return []
        if not labels:
            return []
        shift = repeat % len(labels)
        return labels[shift:] + labels[:shift]

    def run(self) -> list[RunResult]:
        scenarios = [BY_KEY[key] for key in self.settings.scenarios]
        for repeat in range(self.settings.repeats):
            for scenario in scenarios:
                labels = self.labels(scenario, repeat)
                if not labels:
                    continue
                pace = None
                if scenario.key == "flow":
                    pace = self.calibrate(scenario, repeat)
                    if pace is None:
                        for label in labels:
                            self.results.append(
                                RunResult(
                                    scenario.key,
                                    label,
                                    repeat,
                                    "error",
                                    message="calibration run failed",
                                )
                            )
                        continue
                for label in labels:
                    self.runOne(scenario, label, repeat, pace)
        return self.results

    def calibrate(self, scenario: Scenario, repeat: int) -> float | None:
        """The flow sender's unthrottled rate, times L{PACE_FRACTION}."""
        binder, connector = self.specs(scenario, "deferred", None)
        count = min(CALIBRATION_COUNT, self.count(scenario))
        binder.role = binder.config["role"] = "pull"
        binder.config["count"] = connector.config["count"] = count
        result = self.execute(
            scenario, "calibration", repeat, binder, connector, self.settings.timeout
        )
        rate = result.binder.get("rate") if result.binder else None
        self.log(
            f"  [{repeat + 1}] flow calibration: {result.status}"
            + (f", {rate:,.0f} msg/s unthrottled" if rate else f" {result.message}")
        )
        if result.status != "ok" or not rate:
            return None
        pace = float(rate) * PACE_FRACTION
        self.paces.append(pace)
        return pace

    def runOne(
        self, scenario: Scenario, label: str, repeat: int, pace: float | None
    ) -> RunResult:
        other = None
        if scenario.device:
            binder, connector, other = self.deviceSpecs(scenario, label)
        else:
            binder, connector = self.specs(scenario, label, pace)
        result = self.execute(
            scenario,
            label,
            repeat,
            binder,
            connector,
            self.timeout(scenario, pace),
            other,
        )
        self.results.append(result)
        shown = "-" if result.value is None else f"{result.value:,.2f}"
        extra = f" ({result.message})" if result.message else ""
        self.log(
            f"  [{repeat + 1}] {scenario.key:<18} {label:<9} {result.status:<6}"
            f" {shown} {scenario.unit}  {result.wall_s:.1f}s{extra}"
        )
        return result

    def argv(self, spec: PeerSpec) -> list[str]:
        return [
            self.pythons[spec.kind],
            str(LAUNCH),
            MODULES[spec.kind],
            json.dumps(spec.config),
        ]

    def execute(
        self,
        scenario: Scenario,
        label: str,
        repeat: int,
        binderSpec: PeerSpec,
        connectorSpec: PeerSpec,
        timeout: float,
        otherSpec: PeerSpec | None = None,
    ) -> RunResult:
        """
        Run one pair of processes (or, for a device scenario, the device
        and its two endpoints) to the end, a stall or an error.
        """
        specs = [("binder", binderSpec), ("connector", connectorSpec)]
        if otherSpec is not None:
            specs.append(("other", otherSpec))
        if self.settings.profile is not None:
            for where, spec in specs:
                if spec.kind in TWISTED_KINDS:
                    name = f"{scenario.key}-{label}-{where}-{spec.role}-{repeat + 1}"
                    path = self.settings.profile.resolve() / f"{name}.prof"
                    spec.config["profile"] = str(path)
        started = time.monotonic()
        deadline = started + timeout
        events: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        children: dict[str, Child] = {}
        problems: list[str] = []
        stderr: dict[str, str] = {}
        stalled = False
        ender = scenario.endsBy
        try:
            children["binder"] = Child(
                "binder", self.argv(binderSpec), self._tmp, events
            )
            endpoint = None
            ready: dict[str, Any] = {}
            while endpoint is None and not problems:
                event = self._next(events, min(deadline, started + READY_TIMEOUT))
                if event is None:
                    stalled = True
                    problems.append("binder never became ready")
                    break
                name, data = event
                if data["event"] == "ready":
                    endpoint = data["endpoint"]
                    ready = data
                else:
                    self._handle(children, name, data, problems)
            if endpoint is not None and otherSpec is not None:
                # A device: its backend's endpoint starts first (the SUB,
                # the worker), then the one on the frontend.
                sides = {"frontend": endpoint, "backend": ready["backend"]}
                connectorSide = scenario.connectorSide
                otherSide = "frontend" if connectorSide == "backend" else "backend"
                connectorSpec.config["address"] = sides[connectorSide]
                otherSpec.config["address"] = sides[otherSide]
                starts = [("connector", connectorSpec), ("other", otherSpec)]
                if connectorSide != "backend":
                    starts.reverse()
                for name, spec in starts:
                    children[name] = Child(name, self.argv(spec), self._tmp, events)
            elif endpoint is not None:
                connectorSpec.config["address"] = endpoint
                children["connector"] = Child(
                    "connector", self.argv(connectorSpec), self._tmp, events
                )
            if endpoint is not None:
                while not problems and children[ender].result is None:
                    event = self._next(events, deadline)
                    if event is None:
                        stalled = True
                        problems.append(f"no result within {timeout:.0f} s")
                        break
                    self._handle(children, *event, problems)
            # Stop everyone and collect what they report.
            for child in children.values():
                child.stop()
            grace = time.monotonic() + STOP_GRACE
            while not all(child.exited for child in children.values()):
                event = self._next(events, grace)
                if event is None:
                    break
                self._handle(children, *event, [])
        finally:
            for child in children.values():
                child.kill()
        for child in children.values():
            if child.proc.returncode not in (0, None) and not stalled:
                problems.append(
                    f"{child.name} exited with {child.proc.returncode}: "
                    f"{child.stderrTail(400)}"
                )
            if problems and child.stderrTail():
                stderr[child.name] = child.stderrTail()
                self.log(f"    {child.name} stderr: {stderr[child.name]}")
            child.close()
        result = RunResult(
            scenario.key,
            label,
            repeat,
            "ok",
            binder=children["binder"].result if "binder" in children else None,
            connector=children["connector"].result if "connector" in children else None,
            other=children["other"].result if "other" in children else None,
            wall_s=time.monotonic() - started,
            stderr=stderr,
        )
        for side in (result.binder, result.connector):
            if side is not None and "rss_growth_kib" in side:
                side["rss_growth_mb"] = side["rss_growth_kib"] / 1024
        measured = result.side(scenario.measuredBy)
        if measured is not None and measured.get(scenario.metric) is not None:
            result.value = float(measured[scenario.metric])
        received = result.receiver()
        if stalled:
            result.status = "stall"
        elif problems or measured is None or result.value is None:
            result.status = "error"
            if not problems:
                problems.append(f"no {scenario.metric} reported")
        elif received is not None and not self._intact(scenario, received):
            result.status = "lost"
        if received is not None and received.get("lost") and not scenario.lossExpected:
            problems.append(f"{received['lost']:,} of {received['expected']:,} lost")
        if received is not None and received.get("disorder"):
            problems.append(f"{received['disorder']:,} out of order")
        result.message = "; ".join(problems)
        return result

    @staticmethod
    def _intact(scenario: Scenario, received: dict[str, Any]) -> bool:
        if received.get("disorder"):
            return False
        # PUB drops for a subscriber at its HWM: counted, not an error.
        return scenario.lossExpected or not received.get("lost")

    @staticmethod
    def _next(
        events: queue.Queue[tuple[str, dict[str, Any]]], deadline: float
    ) -> tuple[str, dict[str, Any]] | None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        try:
            return events.get(timeout=remaining)
        except queue.Empty:
            return None

    @staticmethod
    def _handle(
        children: dict[str, Child],
        name: str,
        data: dict[str, Any],
        problems: list[str],
    ) -> None:
        child = children[name]
        kind = data.get("event")
        if kind == "result":
            child.result = data
        elif kind == "signal":
            for other in children.values():
                if other is not child:
                    other.say(str(data.get("name")))
        elif kind == "error":
            problems.append(f"{name}: {data.get('message')}")
        elif kind == "exit":
            child.exited = True
            child.proc.wait()
            if child.result is None:
                problems.append(f"{name} exited without a result")


def environment(settings: Settings) -> dict[str, Any]:
    """What the results were measured on."""
    import platform
    from importlib.metadata import version

    import zmq

    info: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "pyzmq": zmq.pyzmq_version(),
        "libzmq": zmq.zmq_version(),
        "twisted": version("twisted"),
        "platform": platform.platform(),
        "reactor": settings.reactor,
        "repeats": settings.repeats,
        "command": " ".join(["python -m benchmarks", *sys.argv[1:]]),
    }
    try:
        import txzmq

        info["txzmq"] = txzmq.__version__
    except ImportError:  # pragma: no cover - the suite runs in the repo
        pass
    return info


def summarize(
    results: list[RunResult],
) -> dict[tuple[str, str], dict[str, Any]]:
    """Medians (and sums, maxima) per scenario and peer."""
    groups: dict[tuple[str, str], list[RunResult]] = {}
    for result in results:
        groups.setdefault((result.scenario, result.label), []).append(result)
    summary: dict[tuple[str, str], dict[str, Any]] = {}
    for (key, label), runs in groups.items():
        scenario = BY_KEY[key]
        good = [r for r in runs if r.status == "ok" and r.value is not None]
        row: dict[str, Any] = {
            "runs": len(runs),
            "ok": len(good),
            "statuses": [r.status for r in runs],
            "value": median([r.value for r in good if r.value is not None]),
            "messages": sorted({r.message for r in runs if r.message}),
        }
        for sideName in ("binder", "connector"):
            sides = [r.side(sideName) for r in runs]
            present = [s for s in sides if s is not None]
            cpu = [s["cpu_us_per_msg"] for s in present if s.get("cpu_us_per_msg")]
            rss = [s["maxrss_kib"] for s in present if s.get("maxrss_kib")]
            row[f"{sideName}_cpu_us"] = median(cpu)
            row[f"{sideName}_rss_mb"] = max(rss) / 1024 if rss else None
        receivers = [r.receiver() for r in runs]
        row["lost"] = sum(int(r.get("lost") or 0) for r in receivers if r)
        row["disorder"] = sum(int(r.get("disorder") or 0) for r in receivers if r)
        # In order: nothing overtook anything (gaps are counted as lost).
        row["in_order"] = row["disorder"] == 0
        notes = []
        for sideName, fieldName, fmt in scenario.notes:
            values = [
                s[fieldName]
                for s in (r.side(sideName) for r in good)
                if s is not None and s.get(fieldName) is not None
            ]
            if not values:
                continue
            if all(isinstance(v, (int, float)) for v in values):
                notes.append(fmt.format(statistics.median(values)))
            else:
                notes.append(fmt.format(values[0]))
        row["notes"] = notes
        summary[(key, label)] = row
    for (key, _label), row in summary.items():
        base = summary.get((key, BY_KEY[key].baseline))
        row["ratio"] = None
        if base and base["value"] and row["value"] is not None:
            row["ratio"] = row["value"] / base["value"]
    return summary


def dumpJson(
    path: Path,
    env: dict[str, Any],
    settings: Settings,
    runner: Runner,
) -> None:
    summary = summarize(runner.results)
    data = {
        "environment": env,
        "unavailable": runner.unavailable,
        "paces": runner.paces,
        "kinds": settings.kinds,
        "scenarios": settings.scenarios,
        "runs": [r.__dict__ for r in runner.results],
        "summary": [
            {"scenario": key, "label": label, **row}
            for (key, label), row in summary.items()
        ],
    }
    path.write_text(json.dumps(data, indent=1, default=str) + "\n")


__all__ = [
    "Runner",
    "RunResult",
    "Settings",
    "dumpJson",
    "environment",
    "summarize",
]
