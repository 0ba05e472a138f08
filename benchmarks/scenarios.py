"""
The scenario table: what each scenario runs in which process, how many
messages, and what it reports.

Every run has two processes.  The I{binder} binds (a random tcp port on
127.0.0.1, or an ipc path in a temporary directory) and reports its
endpoint; the I{connector} is started with that endpoint.  One of them
ends the run (C{endsBy}: the receiver or the client) and one holds the
headline number (C{measuredBy}).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PEER_KINDS = ("txzmq", "blocking", "aio", "txzmq1")
"""Every kind of peer, in the order of the tables."""

PEER_NAMES = {
    "txzmq": "txzmq",
    "blocking": "pyzmq blocking",
    "aio": "zmq.asyncio",
    "txzmq1": "txZMQ 1.0",
}

BASELINE = "blocking"
"""Ratios in the table are to this kind."""

TWISTED_KINDS = ("txzmq", "txzmq1")

HWM = 1000
SMALL = 64
LARGE = 64 * 1024


@dataclass(frozen=True)
class Variant:
    """A labelled run of a scenario with its own connector kind/config."""

    label: str
    name: str
    """How the table shows it."""
    kind: str
    """The connector's kind (the binder's is the scenario's)."""
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    """One line group of the table."""

    key: str
    title: str
    binderRole: str
    connectorRole: str
    metric: str
    """Field of the measuring side's result that the table shows."""
    unit: str
    higherIsBetter: bool
    count: int
    quickCount: int
    transport: str = "tcp"
    size: int = SMALL
    measuredBy: str = "binder"
    endsBy: str = "binder"
    sides: tuple[str, str] = ("receiver", "sender")
    """What the binder and the connector are, for the CPU/RSS columns."""
    kinds: tuple[str, ...] = PEER_KINDS
    binderKind: str | None = None
    """A fixed kind for the binder (else the kind being measured)."""
    connectorKind: str | None = None
    variants: tuple[Variant, ...] = ()
    """Variants run instead of one run per kind."""
    notes: tuple[tuple[str, str, str], ...] = ()
    """(side, field, format) of extra numbers shown in the notes column."""
    config: dict[str, Any] = field(default_factory=dict)
    """More configuration for both peers."""
    baseline: str = BASELINE
    """The label the ratios of this scenario are to."""
    device: str | None = None
    """
    C{forwarder} or C{queue} for the device scenarios: three processes,
    the binder is the device (the variant's kind), the connector and the
    I{other} process are blocking pyzmq endpoints that connect to it.
    """
    otherRole: str = ""
    """The device scenarios' third process (the one not measuring)."""
    connectorSide: str = "backend"
    """The device side the connector connects to (the other, the other)."""

    @property
    def lossExpected(self) -> bool:
        """
        PUB drops what a subscriber at its high-water mark cannot take, and
        so does the forwarder's XPUB (the sender's PUB has
        C{ZMQ_XPUB_NODROP}: it waits instead).
        """
        return self.binderRole == "pub" or self.device == "forwarder"


ENVELOPE_VARIANTS = (
    *(Variant(kind, PEER_NAMES[kind], kind) for kind in PEER_KINDS),
    # What the txZMQ wire format itself costs: a REQ connection sends
    # [id, b"", payload], three frames, where the baseline sends one.
    Variant(
        "blocking-envelope",
        "pyzmq blocking, txZMQ frames",
        "blocking",
        {"envelope": True},
    ),
)
"""Every kind, and blocking pyzmq sending requests as txzmq does."""

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        key="push_pull_tcp",
        title="PUSH->PULL 64 B tcp",
        binderRole="pull",
        connectorRole="push",
        metric="rate",
        unit="msg/s",
        higherIsBetter=True,
        count=300_000,
        quickCount=3_000,
        notes=(("connector", "mode", "send {}"), ("connector", "window", "window {}")),
    ),
    Scenario(
        key="push_pull_ipc",
        title="PUSH->PULL 64 B ipc",
        binderRole="pull",
        connectorRole="push",
        metric="rate",
        unit="msg/s",
        higherIsBetter=True,
        count=300_000,
        quickCount=3_000,
        transport="ipc",
    ),
    Scenario(
        key="pub_sub",
        title="PUB->SUB 64 B, 4 topics, 1 subscribed",
        binderRole="pub",
        connectorRole="sub",
        metric="rate",
        unit="msg/s",
        higherIsBetter=True,
        count=400_000,
        quickCount=1_600,
        measuredBy="connector",
        endsBy="connector",
        sides=("pub", "sub"),
        notes=(("connector", "received", "got {:,}"),),
    ),
    Scenario(
        key="push_pull_64k",
        title="PUSH->PULL 64 KiB tcp",
        binderRole="pull",
        connectorRole="push",
        metric="rate",
        unit="msg/s",
        higherIsBetter=True,
        count=20_000,
        quickCount=300,
        size=LARGE,
    ),
    Scenario(
        key="req_rep_latency",
        title="REQ/REP round trip, 1 in flight",
        binderRole="rep",
        connectorRole="req",
        metric="p50_us",
        unit="us p50",
        higherIsBetter=False,
        count=5_000,
        quickCount=200,
        measuredBy="connector",
        endsBy="connector",
        sides=("server", "client"),
        notes=(("connector", "p99_us", "p99 {:.0f} us"),),
        config={"warmup": 200},
        variants=ENVELOPE_VARIANTS,
    ),
    Scenario(
        key="req_rep_pipelined",
        title="REQ/REP pipelined, 100 in flight",
        binderRole="rep_pipeline",
        connectorRole="req_pipeline",
        metric="rate",
        unit="req/s",
        higherIsBetter=True,
        count=100_000,
        quickCount=1_000,
        measuredBy="connector",
        endsBy="connector",
        sides=("server", "client"),
        config={"inflight": 100},
        variants=ENVELOPE_VARIANTS,
    ),
    Scenario(
        key="flood",
        title="Flood 200k into one PULL + 10 ms timer",
        binderRole="flood_pull",
        connectorRole="push",
        metric="worst_delay_ms",
        unit="ms worst",
        higherIsBetter=False,
        count=200_000,
        quickCount=5_000,
        kinds=("txzmq", "aio", "txzmq1"),
        connectorKind="blocking",
        notes=(("binder", "rate", "{:,.0f} msg/s"),),
        config={"tick": 0.01},
    ),
    Scenario(
        key="flow",
        title="Flow control: 1M x 64 B into a reader at 1/10 rate",
        binderRole="paced_pull",
        connectorRole="flow_push",
        metric="rss_growth_mb",
        unit="MB RSS growth",
        higherIsBetter=False,
        count=1_000_000,
        quickCount=5_000,
        measuredBy="connector",
        binderKind="blocking",
        variants=(
            Variant("deferred", "txzmq pushDeferred", "txzmq", {"mode": "deferred"}),
            Variant("producer", "txzmq producer", "txzmq", {"mode": "producer"}),
            Variant("retry", "txzmq push+retry", "txzmq", {"mode": "retry"}),
            Variant(
                "txzmq1-hwm0",
                "txZMQ 1.0, HWM 0",
                "txzmq1",
                {"mode": "retry", "hwm": 0},
            ),
        ),
        notes=(
            ("binder", "rate", "{:,.0f} msg/s"),
            ("connector", "max_queued", "max queued {}"),
            ("connector", "pauses", "{} pauses"),
        ),
    ),
)

DEVICE_VARIANTS = (
    Variant("reactor", "txzmq ReactorDevice", "txzmq", {"impl": "reactor"}),
    Variant("thread", "txzmq ThreadDevice", "txzmq", {"impl": "thread"}),
    Variant("proxy", "zmq.proxy in a thread", "blocking", {"impl": "proxy"}),
)
"""The device implementations the device scenarios compare."""

DEVICE_BASELINE = "proxy"

SCENARIOS += (
    Scenario(
        key="device_forwarder",
        title="Forwarder XSUB->XPUB, PUB->device->SUB, 64 B, 1 topic",
        binderRole="device",
        connectorRole="sub",
        metric="rate",
        unit="msg/s",
        higherIsBetter=True,
        count=300_000,
        quickCount=2_000,
        measuredBy="connector",
        endsBy="connector",
        sides=("device", "sub"),
        variants=DEVICE_VARIANTS,
        baseline=DEVICE_BASELINE,
        device="forwarder",
        otherRole="pub",
        connectorSide="backend",
        notes=(("connector", "received", "got {:,}"),),
        config={"topics": 1, "nodrop": True},
    ),
    Scenario(
        key="device_queue",
        title="Queue ROUTER->DEALER, DEALER client->device->DEALER worker, "
        "100 in flight",
        binderRole="device",
        connectorRole="req_pipeline",
        metric="rate",
        unit="req/s",
        higherIsBetter=True,
        count=100_000,
        quickCount=1_000,
        measuredBy="connector",
        endsBy="connector",
        sides=("device", "client"),
        variants=DEVICE_VARIANTS,
        baseline=DEVICE_BASELINE,
        device="queue",
        otherRole="dealer_echo",
        connectorSide="frontend",
        config={"inflight": 100},
    ),
)

BY_KEY = {scenario.key: scenario for scenario in SCENARIOS}

CALIBRATION_COUNT = 200_000
"""Messages of the unthrottled run that sets the flow reader's pace."""

PACE_FRACTION = 0.1
"""The flow scenario's reader reads at this fraction of the sender's rate."""
