"""The fingerprint's load reading: other work on the cores now, not the lagging load average."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from raxlab.measure import fingerprint as fp


def test_load_reports_cores_in_use_and_a_busy_flag():
    ld = fp.load()
    if ld["cores_in_use"] is None:
        pytest.skip("no /proc/stat on this platform")
    assert 0.0 <= ld["cores_in_use"] <= ld["cores"] + 0.01
    assert ld["busy"] == (ld["cores_in_use"] >= fp.busy_threshold(ld["cores"]))
    assert fp.busy_threshold(2) == 0.5 and fp.busy_threshold(64) == pytest.approx(6.4)  # one core of two is busy


def test_a_spinning_process_shows_up_as_a_core_in_use():
    if fp.cpu_in_use(0.05) is None:
        pytest.skip("no /proc/stat on this platform")
    spin = subprocess.Popen([sys.executable, "-c", "import time\nt=time.time()\nwhile time.time()-t<5: pass"])
    try:
        time.sleep(0.3)  # let it start spinning
        assert fp.cpu_in_use(0.5) >= 0.8  # one core fully taken by the spinner
    finally:
        spin.kill()
        spin.wait()
