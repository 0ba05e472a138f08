"""
The txZMQ 1.0 virtualenv.

txZMQ 1.0 is published on PyPI as C{txzmq}, the name of this
repository's package, so it cannot share a virtualenv with it: it gets
its own, made on demand with C{python -m venv} and C{pip install
txzmq==1.0.0} with the same pyzmq and Twisted as this process (for a fair
comparison; any version if those are not on the index).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

TXZMQ1 = "txzmq==1.0.0"
STAMP = ".txzmq1-installed"

_CHECK = (
    "import importlib.metadata as m, txzmq, zmq, twisted;"
    "assert m.version('txzmq') == '1.0.0', m.version('txzmq');"
    "assert not hasattr(txzmq, '__version__'), txzmq.__file__;"
    "print(zmq.pyzmq_version(), twisted.__version__)"
)


class Unavailable(Exception):  # noqa: N818 - reads better at the call sites
    """A peer kind cannot run here; the message says why."""


def _python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd="/",
    )


def _check(venv: Path) -> str:
    """Return "pyzmq twisted" versions if the venv holds txZMQ 1.0, else raise."""
    done = _run([str(_python(venv)), "-c", _CHECK], timeout=60)
    if done.returncode != 0:
        raise Unavailable(f"txZMQ 1.0 virtualenv is broken: {done.stderr.strip()}")
    return done.stdout.strip()


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def txzmq1Python(venv: Path, log: Callable[[str], None] = _stderr) -> Path:
    """
    Return the interpreter of a virtualenv holding txZMQ 1.0, creating it
    if needed.

    @raise Unavailable: when it cannot be made (no network...).
    """
    stamp = venv / STAMP
    if stamp.exists() and _python(venv).exists():
        _check(venv)
        return _python(venv)
    from importlib.metadata import version

    import zmq

    log(f"creating {venv} for txZMQ 1.0 (pip install {TXZMQ1})")
    shutil.rmtree(venv, ignore_errors=True)
    try:
        made = _run([sys.executable, "-m", "venv", str(venv)], timeout=300)
        if made.returncode != 0:
            raise Unavailable(f"python -m venv failed: {made.stderr.strip()[-500:]}")
        pip = [str(_python(venv)), "-m", "pip", "install", "--quiet"]
        pinned = [
            TXZMQ1,
            f"pyzmq=={zmq.pyzmq_version()}",
            f"twisted=={version('twisted')}",
        ]
        done = _run(pip + pinned, timeout=900)
        if done.returncode != 0:
            done = _run(pip + [TXZMQ1, "pyzmq", "twisted"], timeout=900)
        if done.returncode != 0:
            raise Unavailable(
                f"pip install {TXZMQ1} failed: {done.stderr.strip()[-500:]}"
            )
        _check(venv)
    except (OSError, subprocess.TimeoutExpired) as e:
        shutil.rmtree(venv, ignore_errors=True)
        raise Unavailable(f"cannot create the txZMQ 1.0 virtualenv: {e}") from e
    except Unavailable:
        shutil.rmtree(venv, ignore_errors=True)
        raise
    stamp.touch()
    return _python(venv)
