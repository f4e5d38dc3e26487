"""Show: rax accept on a plan made for an emulated 2-node cluster passes on that cluster and fails,
naming the fabric check, when its links run at half the rate (root: network namespaces).

The plan: the emulated fabric as a catalogue override `emulated-1gbit` (line rate 1 Gb/s) and
the compute measured by a lab run of `rax bench ddp` (accept.emulated). The delivered cluster:
two namespaces on one bridge; `rax accept` runs in both, measuring over `rax launch`/torchrun.
"""

import json
import os
import subprocess
import sys

import pytest

from raxlab.catalog import load_catalog
from raxlab.store import Store

ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
pytestmark = [pytest.mark.root, pytest.mark.skipif(not ROOT, reason="network namespaces and tc need root")]
SMALL = ["--comm-max-bytes", "16M", "--comm-iters", "10", "--steps", "4", "--warmup", "1", "--rdzv-timeout", "90"]


@pytest.fixture(scope="module")
def emulated_plan(tmp_path_factory):
    from raxlab.accept.emulated import emulated_plan, override_yaml
    from raxlab.measure.ddp import run_ddp
    from raxlab.measure.ddp_options import DdpOptions

    d = tmp_path_factory.mktemp("emu")
    db = str(d / "rax.db")
    lab = run_ddp(DdpOptions("tiny-lm", batch=4, steps=4, warmup=1).validate(), ranks=2, emulate="1gbit", store=db)
    (d / "ov.yaml").write_text(override_yaml("1gbit"))
    plan = emulated_plan(Store(db).get_run(lab.run_id), load_catalog(str(d / "ov.yaml")), rate="1gbit", nodes=2)
    (d / "plan.json").write_text(json.dumps(plan, allow_nan=False))
    return d, db


def _accept_on(rate: str, d, db: str, name: str) -> tuple[dict, int]:
    from raxlab.netemu import build_fabric

    cmd = [sys.executable, "-m", "raxlab", "accept", str(d / "plan.json"), "--catalog-override", str(d / "ov.yaml"),
           "--rdzv-endpoint", "10.77.0.1:29400", "--store", db, "--out-dir", str(d / name), "--json", *SMALL]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # the emulated nodes share the host's cores, as in the lab run
    with build_fabric(2, rate) as fab:
        procs = [subprocess.Popen(fab.exec_prefix(r) + cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=env) for r in range(2)]
        outs = _wait_all(procs, timeout=300)
    assert procs[1].returncode == 0, outs[1][1][-2000:]
    assert outs[0][0].strip(), outs[0][1][-2000:]
    return json.loads(outs[0][0]), procs[0].returncode


def _wait_all(procs, timeout: float) -> list[tuple[str, str]]:
    """Both nodes' output; on a hang, stop both (SIGTERM lets `rax accept` take its torchrun down)
    and fail with what each node printed last, so a hang neither leaks processes nor hides why."""
    try:
        return [p.communicate(timeout=timeout) for p in procs]
    except subprocess.TimeoutExpired:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        outs = []
        for p in procs:
            try:
                outs.append(p.communicate(timeout=30))
            except subprocess.TimeoutExpired:
                p.kill()
                outs.append(p.communicate())
        tails = "\n".join(f"node{i} (exit {p.returncode}): {(o[1] or '')[-1500:]}"
                          for i, (p, o) in enumerate(zip(procs, outs)))
        pytest.fail(f"rax accept did not finish within {timeout:g} s on both nodes\n{tails}")


def test_full_rate_passes_and_half_rate_fails_on_the_fabric(emulated_plan):
    d, db = emulated_plan
    full, rc = _accept_on("1gbit", d, db, "full")
    by = {c["key"]: c for c in full["checks"]}
    assert (rc, full["verdict"]) == (0, "pass"), full["sentence"]
    assert by["fabric_busbw"]["verdict"] == "pass" and by["ddp_step"]["verdict"] == "pass"
    assert {n["role"] for n in full["nodes"]} == {"node0", "node1"}
    assert (d / "full" / "acceptance.html").is_file()
    half, rc = _accept_on("500mbit", d, db, "half")
    fab = {c["key"]: c for c in half["checks"]}["fabric_busbw"]
    assert (rc, half["verdict"]) == (1, "fail") and fab["verdict"] == "fail"
    assert half["sentence"].startswith("FAIL: fabric bus bandwidth")
    assert fab["measured"] < 0.6 * fab["projected"]  # half the line rate, within the host's noise
    assert "FAIL" in (d / "half" / "acceptance.html").read_text()
