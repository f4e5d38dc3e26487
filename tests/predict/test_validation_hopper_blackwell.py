"""The Hopper/Blackwell validation CSV: schema, a source on every row, and internally consistent
published numbers (a transcription slip shows up as a disagreement between a row's own columns)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

CSV = Path(__file__).resolve().parents[2] / "src/raxlab/predict/data/validation/training_points_hopper_blackwell.csv"
REQUIRED = ("study", "source", "as_of", "model", "gpu", "num_gpus", "tp", "pp", "global_batch_sequences", "seq_len",
            "precision", "task", "flop_basis", "value_type")
INTS = ("hidden", "layers", "heads", "kv_heads", "ffn", "vocab", "num_gpus", "gpus_per_node", "tp", "pp", "cp",
        "global_batch_sequences", "seq_len")


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    with open(CSV, newline="") as f:
        return list(csv.DictReader(f))


def test_every_row_has_a_source_and_a_layout(rows):
    assert len(rows) >= 60
    for r in rows:
        assert all(r[k].strip() for k in REQUIRED), r
        assert all(int(r[k]) > 0 for k in INTS if r[k]), r
        assert r["task"] in ("pretrain", "sft", "lora")
        assert r["tokens_per_s_per_gpu"] or r["step_time_s"], r


def test_dp_times_model_parallel_is_the_gpu_count(rows):
    for r in rows:
        if r["dp"]:
            assert int(r["dp"]) * int(r["tp"]) * int(r["pp"]) * int(r["cp"]) == int(r["num_gpus"]), r


def _nemo_flops_per_token(r: dict, causal: bool) -> float:
    h, l, a, g, f, v, s = (int(r[k]) for k in ("hidden", "layers", "heads", "kv_heads", "ffn", "vocab", "seq_len"))
    attn = 12 * l * h * h * (1 + g / a + (s / h) * (0.5 if causal else 1.0))
    return attn + (18 if r["gated_mlp"] == "true" else 12) * l * f * h + 6 * v * h


def test_published_tflops_follow_one_of_the_two_stated_flop_bases(rows):
    """NeMo's model FLOPs or Megatron-Bridge's (causal half); finetuning rows count less and are excluded."""
    for r in rows:
        if r["task"] == "pretrain" and r["model_tflops_per_gpu"] and r["tokens_per_s_per_gpu"]:
            per_token = float(r["model_tflops_per_gpu"]) * 1e12 / float(r["tokens_per_s_per_gpu"])
            assert min(abs(per_token / _nemo_flops_per_token(r, c) - 1) for c in (False, True)) < 0.015, r


def test_step_time_and_tokens_per_second_agree(rows):
    for r in rows:
        if r["step_time_s"] and r["tokens_per_s_total"]:
            tokens = int(r["global_batch_sequences"]) * int(r["seq_len"])
            assert tokens / float(r["step_time_s"]) == pytest.approx(float(r["tokens_per_s_total"]), rel=0.005), r
