"""Projectable cases from training_points_hopper_blackwell.csv (published H100/B200/GB200 rows).

Each row is projected with the layout it publishes. The published and predicted step are both
put on the row's own FLOP basis: FLOPs per token = the row's model TFLOP/s ÷ its tokens/s when
the source gives both (NeMo and Megatron-Bridge tables), else derived from its MFU, peak and step
time (dgxc-benchmarking), else (torchtitan, tokens/s only) the NeMo formula, which then only
scales both sides alike. So every comparison is the published tokens/s against the projected.

Where the source does not state a setting the projection needs, the case takes the framework's
default and says so in `Case.assumed` (never in the CSV; codes in the table's `assumed` column):
`rc` recompute none (NeMo's
scripts/performance/recommended_model_configs list recompute_layers 0 for these models), `sp`
sequence parallel with TP > 1, `z1` the Megatron distributed optimizer for Megatron/NeMo DDP rows; and
16-bit gradient reduction except torchtitan (FSDP2 mixed_precision_reduce float32 by default).
A row the model cannot express is skipped with the reason (`skipped()`), never bent to fit.
"""

from __future__ import annotations

import csv
import statistics
from dataclasses import dataclass, field

import numpy as np

from benchmarks import bench_predict_validation as base
from raxlab.errors import RaxError
from raxlab.predict.layout import Layout, check_layout
from raxlab.predict.shape import TransformerShape

CSV_NAME = "training_points_hopper_blackwell.csv"
# Catalogue GPU -> (server, fabric, NICs per node). DGX H100 / B200 have 8x 400 Gb/s ConnectX-7
# (dgxc-benchmarking README 'Reference Infrastructure'); Grand Teton has 400 Gb/s RDMA per GPU
# (torchtitan docs/performance.md; RoCE vs IB not stated, ib-ndr stands for the line rate).
SYSTEMS = {"h100-sxm": ("hgx-h100-8gpu", "ib-ndr", 8), "b200-sxm": ("hgx-b200-8gpu", "ib-ndr", 8),
           "a100-sxm-80gb": ("hgx-a100-80gb-8gpu", "ib-hdr", 8),
           # GB200/GB300 NVL72: one 72-GPU NVLink domain, one ConnectX-7 400G / ConnectX-8 800G NIC per GPU
           # (DGX GB200 user guide; the catalogue's gb200-nvl72 / gb300-nvl72 entries)
           "gb200": ("gb200-nvl72", "ib-ndr", 72), "gb300": ("gb300-nvl72", "ib-xdr", 72)}
GENERATION = {"h100-sxm": "Hopper", "h200-sxm": "Hopper", "b200-sxm": "Blackwell", "gb200": "Blackwell",
              "gb300": "Blackwell", "a100-sxm-80gb": "Ampere"}


@dataclass
class HBCase(base.Case):
    row: dict = field(default_factory=dict)
    assumed: list[str] = field(default_factory=list)

    @property
    def generation(self) -> str:
        # torchtitan's Grand Teton H100s (96 GB HBM2e, 500 W cap) are not the catalogue's 700 W part:
        # a slice of their own, so they neither hide nor inflate the h100-sxm errors.
        if "500 W" in self.row.get("gpu_as_stated", ""):
            return "Hopper-500W"
        return GENERATION.get(self.gpu, self.gpu)

    @property
    def family(self) -> str:
        lay = self.layout
        if lay.zero == 3:
            return "FSDP" + ("+TP" if lay.tp > 1 else "")
        if lay.pp > 1:
            return "TP+PP (3D)"
        return "TP+DP" if lay.tp > 1 else "DP"


def _rows() -> list[dict]:
    with open(base.VALIDATION / CSV_NAME, newline="") as f:
        return list(csv.DictReader(f))


def _int(r: dict, key: str, default: int = 1) -> int:
    return int(r[key]) if r[key].strip() else default


def _shape(r: dict) -> TransformerShape:
    return TransformerShape(hidden=_int(r, "hidden"), layers=_int(r, "layers"), heads=_int(r, "heads"),
                            kv_heads=_int(r, "kv_heads"), ffn=_int(r, "ffn"), vocab=_int(r, "vocab"),
                            seq=_int(r, "seq_len"), gated_mlp=r["gated_mlp"] == "true",
                            tied_embeddings=r["tied_embeddings"] == "true")


def _precision(r: dict) -> str | None:
    p = r["precision"].split()[0]
    return p if p in ("bf16", "fp8") else None


def _nemo_flops_per_token(sh: TransformerShape) -> float:
    """NeMo model FLOPs per token (nemo/utils/flops_formulas.py; dgxc llama3.1 README Notes)."""
    h, l, f = sh.hidden, sh.layers, sh.ffn
    attn = 12 * l * h * h * (1 + sh.kv / sh.heads + sh.seq / h)
    return attn + (18 if sh.gated_mlp else 12) * l * f * h + 6 * sh.vocab * h


def flops_per_token(r: dict, sh: TransformerShape) -> float:
    """The row's own FLOP basis (see module doc)."""
    if r["model_tflops_per_gpu"] and r["tokens_per_s_per_gpu"]:
        return float(r["model_tflops_per_gpu"]) * 1e12 / float(r["tokens_per_s_per_gpu"])
    if r["mfu_pct"] and r["peak_tflops_assumed"] and r["step_time_s"]:
        per_step = float(r["mfu_pct"]) / 100 * float(r["peak_tflops_assumed"]) * 1e12 * float(r["step_time_s"])
        return per_step * int(r["num_gpus"]) / (int(r["global_batch_sequences"]) * sh.seq)
    return _nemo_flops_per_token(sh)


def published_tokens_per_gpu(r: dict) -> float:
    if r["tokens_per_s_per_gpu"]:
        return float(r["tokens_per_s_per_gpu"])
    return int(r["global_batch_sequences"]) * int(r["seq_len"]) / float(r["step_time_s"]) / int(r["num_gpus"])


def _reason(r: dict) -> str | None:
    """Why the model cannot project this row as published, or None."""
    if r["gpu"] not in SYSTEMS:
        return f"gpu {r['gpu']} not in the catalogue"
    if "500 W" in r["gpu_as_stated"]:  # torchtitan's Grand Teton H100s: 96 GB HBM2e, 2.4 TB/s, 500 W cap
        return "H100 96 GB / 500 W part not in the catalogue (power-capped clocks, 2.4 TB/s HBM2e)"
    if _precision(r) is None:
        return f"precision {r['precision'].split()[0]} not modelled (bf16/fp8 only)"
    if _int(r, "cp") > 1:
        return "context parallel (cp > 1) not modelled"
    if r["fabric"] == "not stated":
        return "interconnect not stated"
    if not r["micro_batch"].strip():
        return "micro-batch not stated"
    if "FSDP" in r["fsdp_zero"] and _int(r, "pp") > 1:
        return "FSDP combined with PP not modelled"
    return None


def _recompute(r: dict, assumed: list[str]) -> str:
    word = r["recompute"].split()[0] if r["recompute"].strip() else ""
    if word in ("none", "selective", "full"):
        return word
    assumed.append("rc")
    return "none"


def _layout(r: dict, assumed: list[str]) -> Layout:
    tp, pp, g = _int(r, "tp"), _int(r, "pp"), _int(r, "num_gpus")
    fsdp = r["fsdp_zero"]
    sharded = "FSDP" in fsdp
    if not sharded and "distributed optimizer" not in fsdp:
        assumed.append("z1")
    sp = r["sequence_parallel"] == "true" if r["sequence_parallel"] else tp > 1
    if not r["sequence_parallel"] and tp > 1:
        assumed.append("sp")
    titan = r["study"].startswith("torchtitan")
    # Framework settings that are configuration, not measurement. NeMo / Megatron-Core /
    # Megatron-Bridge / dgxc recipes: Transformer Engine's cuDNN fused attention ("fused") and,
    # with TP, TE userbuffers TP-communication overlap (tp_comm_overlap: True in the NeMo and
    # dgxc performance recipes). torchtitan: PyTorch SDPA's FlashAttention-2 backend ("flash")
    # and TP collectives in line (async TP is opt-in).
    return Layout(tp=tp, pp=pp, dp=g // (tp * pp), micro_batch=_int(r, "micro_batch"),
                  global_batch=_int(r, "global_batch_sequences"), vpp=_int(r, "vpp"), zero=3 if sharded else 1,
                  recompute=_recompute(r, assumed), sequence_parallel=sp, attention="flash" if titan else "fused",
                  grad_reduce_bytes=4 if titan else 2, tp_overlap=not titan and tp > 1,
                  lora_rank=_lora_rank(r, assumed))


def _recompute_that_fits(r: dict, sh: TransformerShape, lay: Layout, assumed: list[str]) -> Layout:
    """A row that does not state its recompute setting ran, so it fit in memory: take the least
    recompute (none, selective, full) with which the memory model says the layout fits."""
    if "rc" not in assumed:
        return lay
    from dataclasses import replace

    server, fabric, rails = SYSTEMS[r["gpu"]]
    hw = base._hardware(r["gpu"], server, fabric, rails)
    from raxlab.predict.api import predict_training

    for rc in ("none", "selective", "full"):
        cand = replace(lay, recompute=rc)
        if predict_training(sh, hw, cand, _precision(r), gpus=_int(r, "num_gpus")).fits:
            if rc != "none":
                assumed[assumed.index("rc")] = f"rc:{rc}(fit)"
            return cand
    return lay


def _lora_rank(r: dict, assumed: list[str]) -> int:
    """LoRA rows: the tables do not state the adapter rank; 16 (the time barely depends on it)."""
    if r["task"] != "lora":
        return 0
    assumed.append("r16")
    return 16


def case_or_reason(r: dict) -> HBCase | str:
    reason = _reason(r)
    if reason:
        return reason
    assumed: list[str] = []
    sh = _shape(r)
    lay = _layout(r, assumed)
    try:
        check_layout(lay, gpus=_int(r, "num_gpus"), heads=sh.heads, kv_heads=sh.kv, layers=sh.layers)
    except RaxError as e:
        return f"layout refused: {e}"
    server, fabric, rails = SYSTEMS[r["gpu"]]
    lay = _recompute_that_fits(r, sh, lay, assumed)
    ftok = flops_per_token(r, sh)
    # published TFLOP/s rounded to 0.1 (the sources print at most 4 digits) so tables read cleanly
    return HBCase(r["study"], r["model"], _int(r, "num_gpus"), sh, lay, r["gpu"], server, fabric, rails,
                  _precision(r), ftok * lay.global_batch * sh.seq, round(published_tokens_per_gpu(r) * ftok / 1e12, 1),
                  row=r, assumed=assumed)


def hopper_blackwell_cases() -> tuple[list[HBCase], list[tuple[dict, str]]]:
    """(projectable cases, [(row, reason) for the rows skipped])."""
    cases, skipped = [], []
    for r in _rows():
        c = case_or_reason(r)
        (cases.append(c) if isinstance(c, HBCase) else skipped.append((r, c)))
    return cases, skipped


def _summary_row(label: str, errs: list[float]) -> dict:
    a = np.abs(errs)
    med = statistics.median(errs)
    return {"study": label, "gpus": len(errs), "error_%": round(100 * med, 1),
            "layout": f"|e| med {100 * np.median(a):.1f} p90 {100 * np.percentile(a, 90):.1f} "
                      f"max {100 * a.max():.1f}; signed med {100 * med:+.1f} (%)"}


def slices(res) -> dict[str, list[float]]:
    """Pretraining errors per GPU generation × layout family, generation × precision and generation;
    fine-tuning rows (task sft) in a slice of their own."""
    out: dict[str, list[float]] = {}
    for c, _, e in res:
        task = c.row.get("task", "pretrain")
        keys = ((f"{c.generation} {c.family}", f"{c.generation} {c.precision}", f"{c.generation} all")
                if task == "pretrain" else (f"{c.generation} {task}",))
        for key in keys:
            out.setdefault(key, []).append(e)
    return dict(sorted(out.items()))


def run_rows() -> list[dict]:
    """Rows for the benchmark table: one per case, one summary per study and per slice, the skips."""
    cases, skipped = hopper_blackwell_cases()
    res = base.errors(cases)
    rows = [{"study": c.study, "model": c.model, "gpus": c.gpus, "layout": c.layout_text + f" {c.precision}",
             "published": round(c.published_tflops, 1), "predicted": round(p, 1), "error_%": round(100 * e, 1),
             "assumed": ",".join(c.assumed) or "-"} for c, p, e in res]
    by_study: dict[str, list[float]] = {}
    for c, _, e in res:
        by_study.setdefault(c.study, []).append(e)
    rows += [_summary_row(f"SUMMARY {s}", errs) for s, errs in by_study.items()]
    rows += [_summary_row(f"SLICE {k}", errs) for k, errs in slices(res).items()]
    reasons: dict[str, int] = {}
    for _, why in skipped:
        reasons[why] = reasons.get(why, 0) + 1
    rows += base.worst_rows(res)
    rows += [{"study": "SKIPPED", "gpus": n, "layout": why} for why, n in sorted(reasons.items(), key=lambda x: -x[1])]
    return rows
