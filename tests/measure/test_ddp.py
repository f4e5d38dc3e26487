"""`rax bench ddp` for real on local gloo ranks: stored phases, derived figures, FSDP, errors."""

import json

import pytest

from raxlab.cli.main import main
from raxlab.errors import RaxError
from raxlab.measure.ddp import PHASES, derive, run_ddp
from raxlab.measure.ddp_options import DdpOptions
from raxlab.store import Store


# Loaded by every rank (PYTHONPATH): notes a rank that reaches interpreter finalization, and which
# backend threads were still running then (the issue 20 SIGABRT happened there).
FINALIZE_PROBE = """
import atexit, os
def _probe():
    names = sorted(open(f"/proc/self/task/{t}/comm").read().strip() for t in os.listdir("/proc/self/task"))
    with open(os.environ["RAX_TEST_FINALIZED"], "a") as f:
        f.write(f"rank {os.environ.get('RANK')} finalized beside {[n for n in names if n != 'python']}\\n")
if os.environ.get("RAX_LAUNCH") and os.environ.get("RAX_TEST_FINALIZED"):
    atexit.register(_probe)
"""


def test_ddp_run_stores_every_phase_with_raw_samples(tmp_path, monkeypatch):
    db = str(tmp_path / "d.db")
    (tmp_path / "probe").mkdir()
    (tmp_path / "probe" / "sitecustomize.py").write_text(FINALIZE_PROBE)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "probe"))
    monkeypatch.setenv("RAX_TEST_FINALIZED", str(tmp_path / "finalized.txt"))
    opts = DdpOptions("small-cnn", batch=8, warmup=2, steps=4, timeout_s=60).validate()
    ends = []
    run = run_ddp(opts, ranks=2, transport="gloo", store=db,
                  on_event=lambda ev: ends.append(ev) if ev.get("ev") == "teardown" else None)
    # Every rank ends through rank.teardown: last barrier, group destroyed, os._exit. The gloo
    # threads outlive destroy_process_group, so no rank may enter interpreter finalization.
    assert sorted(e["rank"] for e in ends) == [0, 1]
    assert all("pt_gloo_runloop" in e["threads_left"] for e in ends)
    assert not (tmp_path / "finalized.txt").exists(), (tmp_path / "finalized.txt").read_text()
    stored = Store(db).get_run(run.run_id)
    assert stored["status"] == "complete" and stored["kind"] == "bench.ddp"
    names = [p["name"] for p in stored["points"]]
    assert names == ["warm-up", *PHASES.values()]
    assert all(len(p["samples"]) == 4 and all(s > 0 for s in p["samples"]) for p in stored["points"][1:])
    setup = stored["artifacts"]["ddp_setup"]
    n_params = 3 * 16 * 9 + 16 * 32 * 9 + 32 * 64 * 9 + 2 * (16 + 32 + 64) + 64 * 4 + 4  # convs, BN, fc
    assert setup["params"] == n_params and setup["grad_bytes"] == 4 * n_params
    assert setup["bucket_cap_mb"] == 25.0 and sum(setup["bucket_sizes_bytes"]) == 4 * n_params
    d = stored["artifacts"]["ddp"]
    assert d["samples_per_s"] == pytest.approx(2 * 8 / d["step"]["median"])
    assert 0 < d["scaling_efficiency"] and d["exposed_comm_s"] == pytest.approx(
        d["step"]["median"] - d["compute_s"]) and d["split_method"].startswith("no_sync")
    assert stored["artifacts"]["ddp_transport"]["0"]["kind"] == "tcp"
    assert stored["params"]["env"]["GLOO_SOCKET_IFNAME"] == "lo" and d["loss_finite"]


def test_fsdp_and_bucket_size_are_recorded(tmp_path, capsys):
    rc = main(["bench", "ddp", "small-cnn", "--ranks", "2", "--fsdp", "--micro-batch", "4", "--warmup", "1",
               "--steps", "2", "--no-baseline", "--json", "--store", str(tmp_path / "f.db")])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["setup"]["wrapper"] == "fsdp2 fully_shard" and out["setup"]["fsdp_units"] == 3
    assert out["setup"]["bucket_cap_mb"] is None and "FSDP" in out["derived"]["split_method"]
    assert out["derived"]["step"]["n"] == 2
    assert "single_step" not in out["derived"]


def test_bad_input_is_one_line_error(capsys):
    assert main(["bench", "ddp", "small-cnn", "--precision", "fp8"]) == 2
    assert "--precision: unknown precision 'fp8'" in capsys.readouterr().err
    with pytest.raises(RaxError, match="meta_only"):
        run_ddp(DdpOptions("llama3-8b").validate(), ranks=2)
    with pytest.raises(RaxError, match="CUDA"):
        run_ddp(DdpOptions("small-cnn").validate(), ranks=2, transport="nccl-ib")


def test_derive_by_hand():
    setup = {"batch_per_rank": 4, "tokens_per_sample": 10, "grad_bytes": 100, "wrapper": "DDP"}
    d = derive({"sync_s": [1.0, 1.0, 1.2], "nosync_s": [0.8, 0.8, 0.9], "single_s": [0.5, 0.5, 0.6]}, setup, 2)
    assert d["samples_per_s"] == 8.0 and d["tokens_per_s"] == 80.0
    assert d["scaling_efficiency"] == 0.5 and d["exposed_comm_share"] == pytest.approx(0.2)
    assert derive({"sync_s": []}, setup, 2) == {"complete": False}
