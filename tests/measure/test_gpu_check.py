"""The GPU check's pure parts on CPU: what it would run where, and how it judges each command's JSON."""

import pytest

from raxlab.measure import gpu_check as gc
from raxlab.measure.device import precision_problem

H100 = gc.Host(gpus=8, name="NVIDIA H100 80GB HBM3", capability=(9, 0), root=True,
               peaks={"fp32": 67e12, "tf32": 495e12, "bf16": 989e12, "fp16": 989e12, "fp8": 1979e12},
               mem_bw_Bps=3.35e12)
V100 = gc.Host(gpus=1, name="Tesla V100", capability=(7, 0))


def test_a_cpu_only_host_lists_every_check_and_exits_0(capsys):
    assert gc.main(["--out", "/dev/null"]) == 0  # this CI host has no GPU
    out = capsys.readouterr().out
    assert "no CUDA GPU visible" in out and "make gpu-check" in out
    for name in ("compute step", "kernels", "NCCL collectives", "sockets", "DDP step", "FSDP", "report"):
        assert name in out
    assert "rax bench comm --transport nccl" in out


def test_the_plan_skips_what_this_host_cannot_run():
    checks = {c.name: c for c in gc.plan(V100, "s.db", "/tmp")}
    assert checks["NCCL forced onto sockets (NCCL_NET=Socket, 2 namespaces)"].skip.startswith("needs root")
    assert checks["DDP step on every local GPU (1)"].skip == "needs 2 GPUs" and checks["DDP step on 1 GPU"].skip is None
    eight = {c.name: c for c in gc.plan(H100, "s.db", "/tmp")}
    assert all(c.skip is None for c in eight.values())
    assert "send_recv" in eight["NCCL collectives on 8 GPU(s), transport from the logs"].argv[7]
    assert all(c.skip == "no CUDA GPU" for c in gc.plan(gc.Host(gpus=0), "s.db", "/tmp"))


@pytest.mark.parametrize("prec,cc,problem", [
    ("bf16", (7, 0), True), ("bf16", (8, 0), False), ("tf32", (7, 5), True), ("tf32", (8, 6), False),
    ("fp8", (8, 6), True), ("fp8", (8, 9), False), ("fp8", (9, 0), False), ("fp8", (10, 0), False),
    ("fp16", (7, 0), False), ("fp8", None, True), ("tf32", None, True), ("bf16", None, False),
])
def test_precision_support_by_compute_capability(prec, cc, problem):
    assert bool(precision_problem(prec, cc)) is problem


def _pt(prec, status, flops=1e12, mode="train"):
    return {"mode": mode, "precision": prec, "batch": 8, "status": status, "achieved_flops": flops,
            "loss_finite": True, "note": None}


def test_compute_judge_wants_what_the_capability_allows():
    good = {"device": "cuda", "points": [_pt("fp32", "ok"), _pt("bf16", "ok"), _pt("fp8", "unsupported")]}
    assert gc.judge_compute(good, H100) == []
    assert gc.judge_compute({**good, "device": "cpu"}, H100) == ["ran on cpu, not the GPU"]
    v100 = {"device": "cuda", "points": [_pt("bf16", "ok")]}  # emulated bf16 must be refused, not timed
    assert "expected unsupported" in gc.judge_compute(v100, V100)[0]
    too_fast = {"device": "cuda", "points": [_pt("bf16", "ok", flops=2e15)]}
    assert "of the catalogue peak" in gc.judge_compute(too_fast, H100)[0]


def test_kernel_and_comm_and_ddp_judges():
    k = {"device": "cuda", "points": [{"name": "gemm/fp8/8192x8192x8192", "status": "ok", "tflops": 1500},
                                      {"name": "stream_triad", "status": "ok", "gbps": 3000},
                                      {"name": "h2d/pinned", "status": "ok", "gbps": 50}]}
    assert gc.judge_kernels(k, H100) == []
    assert "expected unsupported" in gc.judge_kernels(k, gc.Host(gpus=1, capability=(8, 0)))[0]
    k["points"][1]["gbps"] = 9000  # faster than HBM: the copy was not waited for
    assert "catalogue peak" in gc.judge_kernels(k, H100)[0]
    comm = {"status": "complete", "params": {"ranks": 2},
            "rows": [{"collective": "all_reduce", "size_bytes": 1 << 20, "correct": True, "wrong": 0}],
            "transport": {"0": {"version": "2.21.5", "kind": "intra-node"}, "1": {"version": "2.21.5", "kind": "tcp"}}}
    assert gc.judge_comm(comm, H100) == []
    assert gc.judge_socket(comm, H100) == ["rank 0: transport intra-node, expected tcp"]
    comm["rows"][0].update(correct=False, wrong=3)
    assert "3 wrong elements" in gc.judge_comm(comm, H100)[0]
    ddp = {"status": "complete", "params": {"ranks": 2}, "setup": {"device": "cuda:0"}, "transport": {"0": {}},
           "derived": {"step": {"median": 0.01}, "loss_finite": True, "scaling_efficiency": 0.9}}
    assert gc.judge_ddp(ddp, H100) == []
    ddp["derived"]["scaling_efficiency"] = 3.0
    assert "not physical" in gc.judge_ddp(ddp, H100)[0]
