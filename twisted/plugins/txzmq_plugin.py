"""
The twistd plugin of txzmq: C{twistd -n txzmq --kind queue ...} runs a
ZeroMQ device as a daemon.  See L{txzmq.tap}.
"""

from twisted.application.service import ServiceMaker

txzmqDevice = ServiceMaker(
    "txzmq",
    "txzmq.tap",
    "Run a ZeroMQ device (queue, forwarder, streamer, monitored queue)",
    "txzmq",
)
