"""
The child process of a L{txzmq.devices.ProcessDevice}.

It reads the device's configuration (one JSON line) from standard input,
binds, prints the bound addresses as one JSON line, then runs the device
until standard input says C{TERMINATE} or closes.  C{PAUSE} and C{RESUME}
lines steer it.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any

import zmq

from txzmq._proxy import DeviceConfig, runProxy, steeringCommand

_CONTROL = "inproc://txzmq-device-control"


def _forwardCommands(
    context: zmq.Context[Any],
    config: DeviceConfig,
    stdin: Any,
    finished: threading.Event,
) -> None:
    """
    Pass command lines from standard input to the device's control socket
    (end of input means TERMINATE).  The socket stays open until the
    device has stopped: closing it at once could drop TERMINATE.
    """
    control = context.socket(zmq.PAIR)
    control.bind(_CONTROL)
    try:
        for line in stdin:
            command = line.strip()
            if command in (b"PAUSE", b"RESUME", b"TERMINATE"):
                control.send(steeringCommand(config, command))
            if command == b"TERMINATE":
                break
        else:
            control.send(b"TERMINATE")
        finished.wait()
    finally:
        control.close(linger=0)


def main() -> int:
    stdin = sys.stdin.buffer
    config = DeviceConfig.fromJSON(stdin.readline().decode())
    context: zmq.Context[Any] = zmq.Context()
    finished = threading.Event()
    reader = threading.Thread(
        target=_forwardCommands,
        args=(context, config, stdin, finished),
        daemon=True,
    )
    reader.start()

    def started(addresses: dict[str, list[str]]) -> None:
        sys.stdout.write(json.dumps(addresses) + "\n")
        sys.stdout.flush()

    try:
        runProxy(context, config, _CONTROL, started)
    except zmq.ZMQError as e:
        sys.stderr.write(f"cannot start the device: {e}\n")
        sys.stderr.flush()
        # The command reader may be blocked on standard input for good:
        # leave without waiting for it (or terminating the context).
        os._exit(1)
    finished.set()
    reader.join()
    context.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
