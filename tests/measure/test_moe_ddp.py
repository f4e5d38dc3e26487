"""Root: one expert-parallel `rax bench ddp` run of tiny-moe over an emulated 1 gbit link.

Two ranks, one per network namespace (gloo over a tbf-shaped veth), EP 2: each rank holds four of
the eight experts. The run must check itself against the unsharded model before timing, time the
all-to-alls (> 0 s), and store bytes and token counts that follow from the shapes: every block
sends each token's 4 copies (4 x 64 tokens per rank, 64 fp32 each) in 4 row exchanges (dispatch,
combine and their gradients), and the experts receive all 2 x 1024 copies per block.
"""

import os

import pytest

from raxlab.measure.ddp import run_ddp
from raxlab.measure.ddp_options import DdpOptions
from raxlab.store import Store

BATCH, SEQ, TOP_K, HIDDEN = 4, 64, 4, 64  # --micro-batch 4 of tiny-moe (preset: seq_len 64, top-4, hidden 64)
COPIES = BATCH * SEQ * TOP_K  # token copies one rank dispatches per block
ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
pytestmark = [pytest.mark.root, pytest.mark.slow,
              pytest.mark.skipif(not ROOT, reason="emulated fabrics need root (network namespaces, tc)")]


def test_expert_parallel_step_over_an_emulated_link(tmp_path):
    opts = DdpOptions("tiny-moe", batch=BATCH, warmup=1, steps=3, max_seconds=5, baseline=False,
                      timeout_s=120).validate()
    run = run_ddp(opts, ranks=2, emulate="1gbit", store=str(tmp_path / "ep.db"))
    d, ep = run.derived, run.setup["ep"]
    assert run.params["ep"] == 2 and ep["degree"] == 2 and ep["experts_per_rank"] == 4
    assert ep["check"]["ok"] and ep["check"]["max_rel_logit_error"] <= 1e-4
    stored = Store(str(tmp_path / "ep.db")).get_run(run.run_id)
    points = {p["name"]: p for p in stored["points"]}
    a2a = points["ep all-to-all (synced step)"]
    assert len(a2a["samples"]) >= 3 and min(a2a["samples"]) > 0 and d["exposed_a2a_s"] > 0
    row_bytes = COPIES * HIDDEN * 4  # one exchange of one rank: its copies x hidden x fp32
    assert a2a["result"]["bytes_per_step"] == 2 * 2 * 4 * row_bytes  # ranks x blocks x row exchanges
    assert 0 < d["a2a_bytes_off_rank_per_step"] < d["a2a_bytes_per_step"]
    tokens = points["ep tokens per expert"]["result"]["tokens_per_expert"]
    assert all(len(block) == 8 and sum(block) == 2 * COPIES for rnd in tokens for block in rnd)
    assert all(v >= 1 for v in points["ep tokens per expert"]["samples"])
    assert d["compute_s"] > 0 and d["exposed_comm_s"] > 0  # at 1 gbit the all-to-all cannot hide
    assert run.transport["0"]["kind"] == "tcp" and stored["params"]["fabric"]["shaping"]["rate"] == "1gbit"
