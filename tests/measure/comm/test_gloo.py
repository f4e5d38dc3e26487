"""Real runs over localhost gloo: correctness, bandwidth definitions, storage, binding."""

import json
import subprocess
import sys
import time

import psutil
import pytest
import torch

from raxlab.cli.main import main
from raxlab.measure.comm.collectives import COLLS, DTYPES
from raxlab.measure.comm.driver import run_comm
from raxlab.measure.comm.options import SweepOptions
from raxlab.store import Store


def rank_listeners() -> list[tuple[str, int]]:
    """Listening TCP sockets of this process's rank children."""
    out = []
    for child in psutil.Process().children(recursive=True):
        try:
            out += [c.laddr for c in child.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
        except psutil.Error:
            pass
    return out


def test_every_collective_and_dtype_is_exact_on_sizes_not_multiple_of_ranks(tmp_path):
    sweep = SweepOptions(collectives="all", dtypes="fp32,bf16,fp16", min_bytes=1000, max_bytes=9000,
                         step_factor=3, iters=2, warmup=1, timeout_s=60).validate()
    listeners = []
    seen = lambda ev: listeners.extend(rank_listeners()) if ev.get("ev") == "row" and not listeners else None  # noqa
    run = run_comm(sweep, ranks=3, store=str(tmp_path / "r.db"), on_event=seen)
    assert run.status == "complete"
    assert {(r["collective"], r["dtype"]) for r in run.rows} == {(c, d) for c in COLLS for d in DTYPES}
    for r in run.rows:
        es = torch.empty((), dtype=DTYPES[r["dtype"]]).element_size()
        assert r["correct"] is True and r["wrong"] == 0, r
        assert r["size_bytes"] == COLLS[r["collective"]].size_bytes(r["requested_bytes"], es, 3)
        assert r["count"] * es == r["size_bytes"] and r["ranks"] == 3 and r["transport"] == "gloo"
        assert r["algbw_GBps"] == pytest.approx(r["size_bytes"] / (r["time_us"] * 1e-6) / 1e9)
        assert r["busbw_GBps"] == pytest.approx(r["algbw_GBps"] * COLLS[r["collective"]].factor(3))
    # rendezvous and gloo bound to loopback only, never 0.0.0.0 / ::
    assert listeners and all(addr.ip == "127.0.0.1" for addr in listeners), listeners
    stored = Store(tmp_path / "r.db").get_run(run.run_id)
    assert stored["status"] == "complete" and stored["n_points"] == len(run.rows)
    assert {p["status"] for p in stored["points"]} == {"ok"}
    assert len(stored["points"][0]["samples"]) == 2  # raw slowest-rank times, one per iteration
    assert len(stored["artifacts"]["comm_fit"]) == len(COLLS) * len(DTYPES)
    assert stored["artifacts"]["comm_transport"]["0"] == {"backend": "gloo", "kind": "tcp", "ifname": "lo",
                                                          "addrs": ["127.0.0.1"]}
    assert "host" in stored["fingerprints"]


def test_cli_json_rows_and_table(tmp_path, capsys):
    db = str(tmp_path / "c.db")
    base = ["bench", "comm", "--ranks", "2", "--collectives", "all_reduce,send_recv", "-b", "1K", "-e", "64K",
            "-f", "8", "--iters", "3", "--warmup", "1", "--store", db]
    assert main(base + ["--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    need = {"collective", "size_bytes", "ranks", "time_us", "algbw_GBps", "busbw_GBps", "correct", "transport",
            "dtype", "stats"}
    assert out["rows"] and all(need <= set(r) for r in out["rows"])
    assert {f["collective"] for f in out["fits"]} == {"all_reduce", "send_recv"}
    assert main(base) == 0
    text = capsys.readouterr().out
    assert "#wrong" in text and "busbw" in text and "alpha(us)" in text and "peak busbw" in text
    assert len(Store(db).list_runs()) == 2


def test_torchrun_launch_and_the_documented_worker_entry_point(tmp_path, capsys):
    db = str(tmp_path / "t.db")
    sweep = ["--collectives", "all_reduce", "-b", "1K", "-e", "64K", "-f", "64", "--iters", "2", "--warmup", "1"]
    torchrun = ["--standalone", "--nproc-per-node", "2"]
    assert main(["bench", "comm", *sweep, "--store", db, "--json", "--torchrun", "--", *torchrun]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["params"]["launcher"] == "torchrun" and [r["ranks"] for r in out["rows"]] == [2, 2]
    # torchrun ... -m raxlab.measure.comm.worker --store: rank 0 writes the store itself
    subprocess.run([sys.executable, "-m", "torch.distributed.run", *torchrun, "-m", "raxlab.measure.comm.worker",
                    *sweep, "--store", db], check=True, capture_output=True, timeout=120)
    runs = Store(db).list_runs()
    assert [r["status"] for r in runs] == ["complete", "complete"] and [r["n_points"] for r in runs] == [2, 2]


def test_nccl_arms_fail_early_on_a_cpu_machine(capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; the NCCL arms can run here")
    t0 = time.perf_counter()
    assert main(["bench", "comm", "--transport", "nccl-ib", "--ranks", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "nccl-ib needs CUDA GPUs and NCCL" in err
    assert time.perf_counter() - t0 < 5
    assert main(["bench", "comm", "--transport", "rdma"]) == 2
    assert "unknown transport 'rdma'" in capsys.readouterr().err
