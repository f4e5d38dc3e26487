import os
import time

from raxlab.measure.isolate import Unsupported, run_isolated


def double(x):
    return {"x": 2 * x}


def raises():
    raise ValueError("forward exploded")


def unsupported():
    raise Unsupported("fp8 needs sm_89+")


def hangs():
    time.sleep(60)


def killed():
    os.kill(os.getpid(), 9)


def test_value_comes_back():
    out = run_isolated(double, 21, timeout_s=30)
    assert out.status == "ok" and out.value == {"x": 42}


def test_failures_are_classified_not_raised():
    assert run_isolated(raises, timeout_s=30).status == "failed"
    assert "forward exploded" in run_isolated(raises, timeout_s=30).error
    out = run_isolated(unsupported, timeout_s=30)
    assert out.status == "unsupported" and "sm_89" in out.error


def test_hang_is_cut_at_the_limit():
    t0 = time.perf_counter()
    out = run_isolated(hangs, timeout_s=1.0)
    assert out.status == "timeout"
    assert time.perf_counter() - t0 < 10


def test_sigkill_is_reported():
    out = run_isolated(killed, timeout_s=30)
    assert out.status == "killed" and "SIGKILL" in out.error
