"""Reliability tests: fuzzed inputs, real faults, store integrity, untrusted content, sockets.

The fuzz targets count every case they try (`fuzzkit.COUNTS`); the totals are printed at
the end of the session and, when `RAX_FUZZ_COUNTS` names a file, written there as JSON.
"""

from __future__ import annotations

import contextlib
import io
import json
import os

import pytest

from tests.reliability.fuzzkit import COUNTS
from tests.reliability.procs import TIMES
from tests.reliability.sockets import SEEN


def pytest_terminal_summary(terminalreporter):
    if SEEN:
        terminalreporter.section("listening sockets of our processes during each run (none left after)")
        for name, socks in SEEN.items():
            terminalreporter.write_line(f"{name:40s} {', '.join(f'{h}:{p}' for h, p in socks)}")
    if TIMES:
        terminalreporter.section("faults: seconds from the fault to a clean end")
        for name, s in TIMES.items():
            terminalreporter.write_line(f"{name:60s} {s:7.2f} s")
    if not COUNTS:
        return
    targets = sorted({t for t, _ in COUNTS})
    terminalreporter.section("fuzz cases tried (accepted / RaxError, one line each)")
    for t in targets:
        ok, err = COUNTS[(t, "accepted")], COUNTS[(t, "RaxError")]
        terminalreporter.write_line(f"{t:28s} {ok + err:7d} cases: {ok:6d} accepted, {err:6d} RaxError")
    terminalreporter.write_line(f"{'total':28s} {sum(COUNTS.values()):7d} cases (an escape fails its test)")
    out = os.environ.get("RAX_FUZZ_COUNTS")
    if out:
        with open(out, "w") as f:
            json.dump({f"{t}/{o}": n for (t, o), n in sorted(COUNTS.items())}, f, indent=2)


def cli(*argv) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of the real `rax` entry point, in this process."""
    from raxlab.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def assert_cli_error(code: int, err: str) -> str:
    """Exit 2 and exactly one stderr line `rax: error: ...`, no traceback."""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("rax: error: "), (code, err)
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def cli_run():
    return cli
