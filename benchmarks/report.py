"""
The table of medians printed at the end of a run.
"""

from __future__ import annotations

from typing import Any

from benchmarks.scenarios import BASELINE, BY_KEY, PEER_NAMES, Scenario

HEADERS = (
    "peer",
    "median",
    "x pyzmq",
    "CPU us/msg",
    "peak RSS MB",
    "lost",
    "order",
    "runs",
    "notes",
)


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit.startswith(("msg/s", "req/s")):
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


def _pair(a: float | None, b: float | None, digits: int) -> str:
    def one(x: float | None) -> str:
        return "-" if x is None else f"{x:.{digits}f}"

    return f"{one(a)} / {one(b)}"


def _runs(row: dict[str, Any]) -> str:
    bad = [s for s in row["statuses"] if s != "ok"]
    text = f"{row['ok']}/{row['runs']}"
    if bad:
        text += " (" + ", ".join(sorted(set(bad))) + ")"
    return text


def _label(scenario: Scenario, label: str) -> str:
    for variant in scenario.variants:
        if variant.label == label:
            return variant.name
    return PEER_NAMES.get(label, label)


def table(
    summary: dict[tuple[str, str], dict[str, Any]],
    order: list[str],
    unavailable: dict[str, str],
) -> str:
    """Render the summary as a plain-text table, one block per scenario."""
    lines: list[str] = []
    for key in order:
        scenario = BY_KEY[key]
        rows = [(label, row) for (k, label), row in summary.items() if k == key]
        better = "higher" if scenario.higherIsBetter else "lower"
        binderSide, connectorSide = scenario.sides
        lines.append(
            f"{scenario.title}  [{scenario.unit}, {better} is better; "
            f"CPU and RSS: {binderSide} / {connectorSide}]"
        )
        if not rows:
            lines.append("  (not run)")
            lines.append("")
            continue
        cells = [list(HEADERS)]
        if scenario.baseline != BASELINE:
            cells[0][2] = f"x {scenario.baseline}"
        for label, row in rows:
            ratio = row["ratio"]
            if scenario.lossExpected:
                lost = f"{row['lost']:,} dropped"
            else:
                lost = f"{row['lost']:,}"
            cells.append(
                [
                    _label(scenario, label),
                    _number(row["value"], scenario.unit),
                    "-"
                    if ratio is None or label == scenario.baseline
                    else f"{ratio:.2f}",
                    _pair(row["binder_cpu_us"], row["connector_cpu_us"], 2),
                    _pair(row["binder_rss_mb"], row["connector_rss_mb"], 0),
                    lost,
                    "ok" if row["in_order"] else "BAD",
                    _runs(row),
                    ", ".join(row["notes"]),
                ]
            )
        widths = [max(len(r[i]) for r in cells) for i in range(len(HEADERS))]
        for r in cells:
            lines.append(
                "  "
                + "  ".join(
                    c.ljust(w) if i in (0, 8) else c.rjust(w)
                    for i, (c, w) in enumerate(zip(r, widths, strict=True))
                ).rstrip()
            )
        for label, row in rows:
            for message in row["messages"]:
                lines.append(f"  ! {_label(scenario, label)}: {message}")
        lines.append("")
    for kind, reason in unavailable.items():
        lines.append(f"{PEER_NAMES.get(kind, kind)} unavailable: {reason}")
    return "\n".join(lines).rstrip() + "\n"


def header(env: dict[str, Any], paces: list[float]) -> str:
    """The lines that say what, where and how."""
    lines = [
        f"date: {env['date']}",
        f"command: {env['command']}",
        f"machine: nproc={env['nproc']}, {env['platform']}",
        f"versions: python {env['python']}, pyzmq {env['pyzmq']}, "
        f"libzmq {env['libzmq']}, Twisted {env['twisted']}, "
        f"txzmq {env.get('txzmq', '?')}",
        f"reactor (txzmq, txZMQ 1.0): {env['reactor']}; "
        f"repeats: {env['repeats']} (medians); HWM 1000; 127.0.0.1",
    ]
    if paces:
        shown = ", ".join(f"{p:,.0f}" for p in paces)
        lines.append(f"flow reader pace (msg/s, 1/10 of calibration): {shown}")
    return "\n".join(lines) + "\n"
