"""
The child process of a L{txzmq.devices.ProcessDevice}.

It reads the device's configuration (one JSON line) from standard input,
binds, prints the bound addresses as one JSON line, then runs the device
until standard input says C{TERMINATE} or closes.  C{PAUSE} and C{RESUME}
lines steer it.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

import zmq

from txzmq._proxy import DeviceConfig, runProxy

_CONTROL = "inproc://txzmq-device-control"


def _forwardCommands(context: zmq.Context[Any], stdin: Any) -> None:
    """Pass command lines from standard input to the device's control socket."""
    control = context.socket(zmq.PAIR)
    control.bind(_CONTROL)
    try:
        for line in stdin:
            command = line.strip()
            if command in (b"PAUSE", b"RESUME", b"TERMINATE"):
                control.send(command)
            if command == b"TERMINATE":
                return
        control.send(b"TERMINATE")
    finally:
        control.close(linger=1000)


def main() -> int:
    stdin = sys.stdin.buffer
    config = DeviceConfig.fromJSON(stdin.readline().decode())
    context: zmq.Context[Any] = zmq.Context()
    reader = threading.Thread(
        target=_forwardCommands, args=(context, stdin), daemon=True
    )
    reader.start()

    def started(addresses: dict[str, list[str]]) -> None:
        sys.stdout.write(json.dumps(addresses) + "\n")
        sys.stdout.flush()

    try:
        runProxy(context, config, _CONTROL, started)
    except zmq.ZMQError as e:
        sys.stderr.write(f"cannot start the device: {e}\n")
        return 1
    finally:
        reader.join(1.0)
        context.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
