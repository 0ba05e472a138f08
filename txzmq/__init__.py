"""
txzmq: ZeroMQ for Twisted.

A L{ZmqFactory} owns the ZeroMQ context; each connection class wraps one
ZeroMQ socket of one pattern and delivers its events through the
factory's reactor.  The API is that of txZMQ 1.0, extended.
"""

from txzmq._version import __version__
from txzmq.codec import Codec, JsonCodec, jsonCodec
from txzmq.connection import ZmqConnection, ZmqEndpoint, ZmqEndpointType
from txzmq.devices import (
    FORWARDER,
    QUEUE,
    STREAMER,
    DeviceKind,
    ProcessDevice,
    ReactorDevice,
    ThreadDevice,
    ZmqDevice,
)
from txzmq.errors import (
    ZmqConnectionClosedError,
    ZmqEndpointError,
    ZmqMonitorStoppedError,
    ZmqQueueFullError,
    ZmqRequestTimeoutError,
    ZmqUnknownRequestError,
    ZmqWouldBlockError,
)
from txzmq.factory import ZmqFactory
from txzmq.monitor import ZmqEvent
from txzmq.pair import ZmqPairConnection
from txzmq.pubsub import (
    ZmqPubConnection,
    ZmqSubConnection,
    ZmqXPubConnection,
    ZmqXSubConnection,
)
from txzmq.pushpull import ZmqPullConnection, ZmqPushConnection
from txzmq.req_rep import ZmqREPConnection, ZmqREQConnection
from txzmq.router_dealer import ZmqDealerConnection, ZmqRouterConnection

__all__ = [
    # txZMQ 1.0
    "ZmqConnection",
    "ZmqEndpoint",
    "ZmqEndpointType",
    "ZmqFactory",
    "ZmqPushConnection",
    "ZmqPullConnection",
    "ZmqPubConnection",
    "ZmqSubConnection",
    "ZmqREQConnection",
    "ZmqREPConnection",
    "ZmqRouterConnection",
    "ZmqDealerConnection",
    "ZmqRequestTimeoutError",
    # new in txzmq 2
    "ZmqPairConnection",
    "ZmqXPubConnection",
    "ZmqXSubConnection",
    "ZmqConnectionClosedError",
    "ZmqEndpointError",
    "ZmqMonitorStoppedError",
    "ZmqQueueFullError",
    "ZmqUnknownRequestError",
    "ZmqWouldBlockError",
    "DeviceKind",
    "FORWARDER",
    "QUEUE",
    "STREAMER",
    "ReactorDevice",
    "ThreadDevice",
    "ProcessDevice",
    "ZmqDevice",
    "ZmqEvent",
    "Codec",
    "JsonCodec",
    "jsonCodec",
    "__version__",
]
