"""
Start one peer: C{python benchmarks/peers/launch.py KIND CONFIG_JSON}.

Run by file name, not with C{-m}, and from a directory outside the
repository: C{-m} would put the working directory first on C{sys.path},
and in the txZMQ 1.0 virtualenv the repository's C{txzmq} would then
shadow the installed txZMQ 1.0.  Here the repository root is appended
to the I{end} of C{sys.path}, so it provides C{benchmarks} while an
installed C{txzmq} keeps precedence.
"""

from __future__ import annotations

import importlib
import json
import os
import sys

KINDS = ("blocking", "aio", "twisted_peer")


def _fixPath() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    # Running a script puts its own directory first; drop it so that the
    # peer modules are only importable as benchmarks.peers.*.
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    if root not in sys.path:
        sys.path.append(root)


def main(argv: list[str]) -> None:
    if len(argv) != 2 or argv[0] not in KINDS:
        sys.exit(f"usage: launch.py {{{','.join(KINDS)}}} CONFIG_JSON")
    _fixPath()
    module = importlib.import_module(f"benchmarks.peers.{argv[0]}")
    module.main(json.loads(argv[1]))


if __name__ == "__main__":
    main(sys.argv[1:])
