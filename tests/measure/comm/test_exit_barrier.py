"""Under torchrun, a node's agent can wait at its exit barrier for a peer node that never arrives
(torch's timeout: 300 s). The launcher stops waiting once this node's workers have been gone a while,
but never during the rendezvous, before any worker started."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

from raxlab.measure.comm import launch as launch_mod

# stand-ins for torchrun's agent: one starts a worker that ends, then waits (as at the exit
# barrier); the other never starts a worker (as while waiting in the rendezvous)
AGENT_AT_BARRIER = ("import subprocess, sys, time\n"
                    "subprocess.run([sys.executable, '-c', 'import time; time.sleep(0.5)'])\n"
                    "time.sleep(60)")
AGENT_IN_RENDEZVOUS = "import time; time.sleep(3)"


def _session(tmp_path, code: str):
    spec = launch_mod.LaunchSpec("unused", ranks=1, torchrun_args=[], log_dir=str(tmp_path))
    s = launch_mod._Session(spec, lambda ev: None)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, start_new_session=True)
    reader = threading.Thread(target=proc.stdout.read, daemon=True)
    reader.start()
    s.procs.append(launch_mod._Rank(-1, proc, reader))
    return s, proc


def _watch(s, proc, seconds: float) -> float:
    t0 = time.perf_counter()
    while proc.poll() is None and time.perf_counter() - t0 < seconds:
        s._check_exits()
        s._watchdog()
        time.sleep(0.05)
    return time.perf_counter() - t0


def test_agent_left_at_the_exit_barrier_is_stopped_after_the_grace(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(launch_mod, "EXIT_GRACE_S", 1.0)
    s, proc = _session(tmp_path, AGENT_AT_BARRIER)
    try:
        took = _watch(s, proc, 30)
        assert proc.poll() is not None and s.workers_seen and s.abandoned
        assert took < 15  # worker 0.5 s + grace 1 s + start-up, far below the agent's 60 s
        s._check_exits()  # its kill is ours, not a failure: no RankFailure raised
        assert "exit barrier" in capsys.readouterr().err
    finally:
        s.close()


def test_agent_still_in_the_rendezvous_is_left_alone(tmp_path, monkeypatch):
    monkeypatch.setattr(launch_mod, "EXIT_GRACE_S", 0.3)
    s, proc = _session(tmp_path, AGENT_IN_RENDEZVOUS)
    try:
        _watch(s, proc, 30)
        assert proc.returncode == 0 and not s.abandoned and not s.workers_seen
    finally:
        s.close()
