#!/usr/bin/env python3
"""The one developer entry point for txzmq.  Needs only Python 3.10+ with pip.

    python3 run.py demo [ARGS...]      run the demo (python -m txzmq.demo)
    python3 run.py test                lint, type-check, docs, trial on every reactor
                                       under coverage, coverage gate (90%)
    python3 run.py test --reactor epoll          one reactor only
    python3 run.py test -- txzmq.test.test_pubsub   trial args instead of
                                       "txzmq" (coverage is reported, not gated)
    python3 run.py lint                ruff check + mypy only
    python3 run.py docs                API reference (pydoctor, warnings are
                                       errors) + check of the docs' links

Every command first makes sure ./.venv exists and holds `pip install -e .[dev]`
(reinstalled only when setup.cfg or pyproject.toml is newer than the stamp).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import venv
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".txzmq-dev-installed"
INSTALL_INPUTS = [ROOT / "setup.cfg", ROOT / "pyproject.toml"]
REACTORS = ["select", "poll", "epoll", "asyncio"]
FAIL_UNDER = 90
TRIAL_RESULT = re.compile(r"^(PASSED|FAILED) \((.*)\)\s*$")


def fail(message: str) -> NoReturn:
    print(f"run.py: error: {message}", file=sys.stderr)
    sys.exit(2)


def header(title: str) -> None:
    print(f"\n==> {title}", flush=True)


def ensure_venv() -> None:
    """Create .venv and install the project into it when needed."""
    if sys.version_info < (3, 10):  # noqa: UP036 - run.py may meet an old python3
        fail(f"Python 3.10+ is required, this is {sys.version.split()[0]}")
    if not PYTHON.exists():
        if importlib.util.find_spec("ensurepip") is None:
            fail(
                "this Python has no 'ensurepip', so it cannot create a virtualenv "
                "with pip.\nInstall it (Debian/Ubuntu: apt-get install python3-venv)"
                " and run again."
            )
        header(f"creating {VENV.relative_to(ROOT)} with {sys.executable}")
        try:
            venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
        except Exception as exc:
            shutil.rmtree(VENV, ignore_errors=True)
            fail(f"could not create the virtualenv: {exc}")
    stamp_time = STAMP.stat().st_mtime if STAMP.exists() else -1.0
    if all(p.stat().st_mtime < stamp_time for p in INSTALL_INPUTS if p.exists()):
        return
    header("installing txzmq[dev] into .venv (pip install -e .[dev])")
    # editable_mode=compat puts the checkout on sys.path (a .pth file), so
    # that twistd finds twisted/plugins/txzmq_plugin.py.
    cmd = [str(PYTHON), "-m", "pip", "install", "--quiet", "-e", ".[dev]"]
    cmd += ["--config-settings", "editable_mode=compat"]
    if subprocess.call(cmd, cwd=ROOT) != 0:
        fail("pip install failed (see above)")
    STAMP.touch()


def run(title: str, args: Sequence[str]) -> bool:
    header(title)
    print("$ " + " ".join(args), flush=True)
    return subprocess.call([str(PYTHON), "-m", *args], cwd=ROOT) == 0


def run_trial(reactor: str, trial_args: Sequence[str]) -> tuple[bool, dict[str, int]]:
    """Run trial under coverage, streaming its output; return (ok, its counts)."""
    args = ["coverage", "run", "-p", "--source=txzmq", "-m", "twisted.trial"]
    args += [f"--reactor={reactor}", *trial_args]
    header(f"trial, reactor={reactor}")
    print("$ " + " ".join(args), flush=True)
    proc = subprocess.Popen(
        [str(PYTHON), "-m", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    assert proc.stdout is not None
    counts: dict[str, int] = {}
    for line in proc.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        match = TRIAL_RESULT.match(line)
        if match:  # e.g. "FAILED (skips=1, failures=2, successes=40)"
            for item in match.group(2).split(","):
                key, _, value = item.strip().partition("=")
                if value.isdigit():
                    counts[key] = int(value)
    return proc.wait() == 0, counts


def lint_targets() -> list[str]:
    """txzmq, examples and benchmarks (if any), the twistd plugin, run.py."""
    targets = ["txzmq"]
    for folder in ("examples", "benchmarks"):
        if any((ROOT / folder).glob("*.py")):
            targets.append(folder)
    return targets + ["twisted", "run.py"]


def lint() -> bool:
    targets = lint_targets()
    return run("ruff check", ["ruff", "check", *targets]) and run(
        "mypy", ["mypy", *targets]
    )


MARKDOWN_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def broken_links() -> list[str]:
    """Relative links in README.md and docs/*.md that point nowhere."""
    broken = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        for number, line in enumerate(text.splitlines(), 1):
            for target in MARKDOWN_LINK.findall(line):
                if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                    continue
                path = (page.parent / target.split("#")[0]).resolve()
                if not path.exists():
                    where = page.relative_to(ROOT)
                    broken.append(f"{where}:{number}: broken link {target}")
    return broken


def docs() -> bool:
    """API reference with pydoctor (warnings are errors) + link check."""
    output = ROOT / "build" / "apidocs"
    ok = run(
        "pydoctor (API reference, warnings are errors)",
        [
            "pydoctor",
            "--project-name=txzmq",
            "--docformat=epytext",
            f"--html-output={output}",
            "--privacy=HIDDEN:txzmq.test",
            "--privacy=HIDDEN:txzmq.test.*",
            "--warnings-as-errors",
            "-q",
            "txzmq",
        ],
    )
    header("docs: relative links in README.md and docs/")
    broken = broken_links()
    for problem in broken:
        print(problem)
    if ok and not broken:
        print(f"API reference in {output.relative_to(ROOT)}/index.html")
    return ok and not broken


def test(reactors: Sequence[str], trial_args: Sequence[str]) -> int:
    passed = failed = skipped = 0
    failed_step = ""
    if not lint():
        failed_step = "lint"
    elif not docs():
        failed_step = "docs"
    else:
        # An absolute path: trial runs the tests inside ./_trial_temp.
        os.environ["COVERAGE_FILE"] = str(ROOT / ".coverage")
        for stale in ROOT.glob(".coverage*"):  # incl. parallel files of old runs
            stale.unlink()
        for reactor in reactors:
            ok, n = run_trial(reactor, trial_args or ["txzmq"])
            passed += n.get("successes", 0) + n.get("expectedFailures", 0)
            bad = n.get("failures", 0) + n.get("errors", 0)
            failed += bad + n.get("unexpectedSuccesses", 0)
            skipped += n.get("skips", 0)
            if not ok:
                failed_step = f"trial ({reactor})"
            elif sum(n.values()) == 0:
                failed_step = f"trial ({reactor}) ran no tests"
            if failed_step:
                break
        if not failed_step:
            report = ["coverage", "report", "--show-missing", "--omit=txzmq/test/*"]
            if not trial_args:  # a partial run cannot meet the gate
                report.append(f"--fail-under={FAIL_UNDER}")
            if not (
                run("coverage combine", ["coverage", "combine", "-q"])
                and run("coverage report", report)
            ):
                failed_step = "coverage"
    verdict = f"FAILED at {failed_step}" if failed_step else "OK"
    print(f"\nrun.py test: {verdict} (reactors: {', '.join(reactors)})")
    print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed_step else 0


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="run.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="run python -m txzmq.demo [ARGS...]")
    test_p = sub.add_parser("test", help="lint + trial on all reactors + coverage")
    test_p.add_argument("--reactor", choices=REACTORS, help="run only this reactor")
    test_p.add_argument(
        "trial_args", nargs="*", help="after --: trial arguments (default: txzmq)"
    )
    sub.add_parser("lint", help="ruff check + mypy")
    sub.add_parser("docs", help="build the API reference, check doc links")
    options, extra = parser.parse_known_args(argv)
    if extra and options.command != "demo":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")

    ensure_venv()
    if options.command == "demo":
        header("python -m txzmq.demo")
        cmd = [str(PYTHON), "-m", "txzmq.demo", *extra]
        return subprocess.call(cmd, cwd=ROOT)
    if options.command == "docs":
        ok = docs()
        print(f"\nrun.py docs: {'OK' if ok else 'FAILED'}")
        return 0 if ok else 1
    if options.command == "lint":
        ok = lint()
        print(f"\nrun.py lint: {'OK' if ok else 'FAILED'}")
        return 0 if ok else 1
    reactors = [options.reactor] if options.reactor else REACTORS
    return test(reactors, options.trial_args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
