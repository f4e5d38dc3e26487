"""Real runs of the compute benchmark on CPU (tiny models, short caps)."""

import json
import math

import numpy as np
import pytest
import yaml

from raxlab.cli.main import main
from raxlab.measure.compute import derive, loss_check
from raxlab.store import Store

FAST = ["--modes", "train", "--point-seconds", "0.5", "--no-gemm-probe", "--json"]

MISBEHAVING = '''
import time
import torch

class Flaky(torch.nn.Module):
    """Fine at batch 1, raises at batch 2, hangs at batch 4 (never on meta: the card traces it)."""
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 3)
    def forward(self, x):
        if x.device.type != "meta" and x.shape[0] == 2:
            raise RuntimeError("forward exploded at batch 2")
        if x.device.type != "meta" and x.shape[0] == 4:
            time.sleep(120)
        return self.lin(x)

def make():
    return Flaky()
'''


def _bench(capsys, *argv):
    code = main(["bench", "compute", *map(str, argv)])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def _by_name(data):
    return {(p["mode"], p["precision"], p["batch"]): p for p in data["points"]}


@pytest.mark.parametrize("workload,tokens", [("tiny-lm", 128), ("small-cnn", None)])
def test_fp32_and_bf16_training_points(capsys, workload, tokens):
    data = _bench(capsys, workload, "--precision", "bf16,fp32", "--micro-batch", "1", *FAST)
    pts = _by_name(data)
    fp32, bf16 = pts[("train", "fp32", 1)], pts[("train", "bf16", 1)]
    for p in (fp32, bf16):
        assert p["status"] == "ok", p["note"]
        assert p["loss_finite"] and math.isfinite(p["loss_first"])
        assert p["samples_per_s"] == pytest.approx(1 / p["median_s"])
        assert p["achieved_flops"] > 0 and p["peak_mem_bytes"] is not None
        assert (p["tokens_per_s"] == pytest.approx(tokens / p["median_s"])) if tokens else p["tokens_per_s"] is None
    # same init and batch: bf16 autocast's first loss stays within 10 % of fp32's
    assert abs(bf16["loss_first"] - fp32["loss_first"]) < 0.1 * fp32["loss_first"]
    card = Store().get_run(data["run_id"])["artifacts"]["card"]
    assert fp32["achieved_flops"] == pytest.approx(card["train_flops_per_sample"] / fp32["median_s"])


def test_fp8_is_unsupported_on_cpu_with_a_reason(capsys):
    data = _bench(capsys, "small-cnn", "--precision", "fp8,fp32", "--micro-batch", "1,2", *FAST)
    pts = _by_name(data)
    assert pts[("train", "fp8", 1)]["status"] == "unsupported"
    assert "compute capability" in pts[("train", "fp8", 1)]["note"]
    assert pts[("train", "fp8", 2)]["status"] == "skipped"
    assert pts[("train", "fp32", 2)]["status"] == "ok"  # the sweep went on


def test_raising_and_hanging_points_do_not_lose_the_others(capsys, tmp_path):
    (tmp_path / "flaky.py").write_text(MISBEHAVING)
    np.save(tmp_path / "x.npy", np.random.rand(16, 4).astype(np.float32))
    spec = tmp_path / "flaky.yaml"
    spec.write_text(yaml.safe_dump({"name": "flaky", "model": "flaky:make", "data": "x.npy",
                                    "precisions": ["fp32"], "trust_code": True}))
    data = _bench(capsys, spec, "--micro-batch", "1,2,4,8", "--point-timeout", "8", *FAST)
    pts = _by_name(data)
    assert [pts[("train", "fp32", b)]["status"] for b in (1, 2, 4, 8)] == ["ok", "failed", "timeout", "skipped"]
    assert "forward exploded" in pts[("train", "fp32", 2)]["note"]
    stored = Store().get_run(data["run_id"])
    assert stored["status"] == "complete"
    assert [p["status"] for p in stored["points"]] == ["ok", "failed", "timeout", "skipped"]
    assert stored["points"][0]["samples"]  # raw samples kept


def test_meta_only_workload_is_refused(capsys):
    assert main(["bench", "compute", "gpt3-175b"]) == 2
    assert "meta-only" in capsys.readouterr().err


def test_derive_and_loss_check_arithmetic():
    result = {"point": {"mode": "train", "precision": "bf16", "batch": 4}, "summary": {"median": 0.5}}
    card = {"train_flops_per_sample": 1e9, "fwd_flops_per_sample": 3e8, "activation_bytes_per_sample": 10}
    d = derive(result, card, 128, {"measured": {"bf16": 1e10}, "catalog": {"bf16": 4e10}})
    assert d["samples_per_s"] == 8 and d["tokens_per_s"] == 1024 and d["achieved_flops"] == 8e9
    assert d["mfu_vs_measured_gemm"] == pytest.approx(0.8) and d["mfu_vs_catalog_peak"] == pytest.approx(0.2)
    assert d["card_activation_bytes"] == 40 and "mfu_note" not in d
    # a step faster than the GEMM probe: the probe is no ceiling, so no ratio over 100 %
    slow_probe = derive(result, card, 128, {"measured": {"bf16": 4e9}, "catalog": {}})
    assert slow_probe["mfu_vs_measured_gemm"] is None and "2.0x the bf16 GEMM probe" in slow_probe["mfu_note"]
    assert loss_check({"loss_finite": True, "loss_first": 5.0}, 5.2) == ("ok", None)
    assert loss_check({"loss_finite": True, "loss_first": 7.0}, 5.0)[0] == "diverged"
    assert loss_check({"loss_finite": False, "loss_first": float("nan"), "loss_last": 1}, 5.0)[0] == "diverged"


def test_sigkill_of_the_parent_keeps_every_finished_point(tmp_path):
    import os
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    db = tmp_path / "killed.db"
    env = {**os.environ, "RAX_STORE": str(db)}
    cmd = [sys.executable, "-m", "raxlab", "bench", "compute", "small-cnn", "--precision", "fp32",
           "--micro-batch", ",".join(str(2 ** i) for i in range(10)), "--modes", "train",
           "--point-seconds", "0.5", "--no-gemm-probe", "--max-seconds", "300"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        n = 0
        while time.time() < deadline and n < 2:
            time.sleep(0.5)
            if db.exists():
                with sqlite3.connect(db) as con:
                    try:
                        n = con.execute("SELECT COUNT(*) FROM points").fetchone()[0]
                    except sqlite3.OperationalError:
                        n = 0
        assert n >= 2, "the sweep never stored two points"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert _wait_no_process_with(f"RAX_STORE={db}", 20), "children outlived the killed parent"
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = con.execute("SELECT name, status, samples_json FROM points ORDER BY seq").fetchall()
    assert len(rows) >= n and all(r[1] == "ok" and r[2] for r in rows)
    assert [r[0] for r in rows][:2] == ["train/fp32/b1", "train/fp32/b2"]


def _wait_no_process_with(env_entry: str, seconds: float) -> bool:
    """True once no process carries `env_entry` in its environment (forkserver, point children)."""
    import time
    from pathlib import Path

    needle = env_entry.encode()
    deadline = time.time() + seconds
    while time.time() < deadline:
        alive = []
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                if needle in (proc / "environ").read_bytes().split(b"\0"):
                    alive.append(proc.name)
            except OSError:
                continue
        if not alive:
            return True
        time.sleep(0.5)
    return False
