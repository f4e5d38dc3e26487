"""Projection vs published training throughput (../shared/validation/).

Every row of megatron_2021_table1.csv and every Megatron/MosaicML row of
training_points_public.csv is projected with its published layout, batch, recompute setting,
GPU and network, using only the priors (no parameter is fitted to these rows). The predicted
step time is turned into TFLOP/s per GPU on the row's own FLOP basis, so like is compared
with like:

- Megatron SC21 (Table 1, Table 2): Narayanan et al. eq. 3 with recompute (96·B·s·l·h²·
  (1 + s/6h + V/16lh)), i.e. recomputed FLOPs included, as the paper counts them;
- Korthikanti et al. 2022 Table 5: model FLOPs 72·B·s·l·h²·(1 + s/6h + V/12lh) (MFU × 312);
- MosaicML llm-foundry: (6·N·s + 12·l·d·s²) per sample with N all parameters (their
  scripts/train/benchmarking/collect_results.py), i.e. MFU × 312.

Layout details the CSVs do not carry come from the published launch scripts and configs:
micro-batch and interleaving for Table 1 from NVIDIA/Megatron-LM examples/sc21/run_table_1.sh;
MPT shapes from mosaicml/llm-foundry scripts/train/yamls/pretrain/mpt-*.yaml (d_model,
n_heads, n_layers, vocab 50368, expansion 4, learned positions of max_seq_len); micro-batch
and gradient accumulation from each MosaicML row's notes.

The H100/B200 rows of training_points_hopper_blackwell.csv are separate studies (built in
validation_hopper_blackwell.py, printed after the A100 misses with per-generation × layout-family
slices and the skipped rows' reasons); they are not part of `all_cases()` or the error band.
"""

from __future__ import annotations

import csv
import re
import statistics
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from raxlab.predict.adapter import hardware_from_catalog
from raxlab.predict.api import predict_training
from raxlab.predict.layout import Layout
from raxlab.predict.shape import TransformerShape, megatron_eq3_flops

TITLE = "Projection vs published training throughput (TFLOP/s per GPU)"
TARGET = ("per generation x layout slice with >= 10 rows (BAND rows): median |error| <= 8 %, max <= 20 %, "
          "|median signed| <= 3 %, held-out-study band coverage 80 % +- 10 points")
# A copy of ../shared/validation (published measurements, each row with its source), kept in the
# package so the benchmark and the error band work from a clean checkout.
VALIDATION = Path(__file__).resolve().parents[1] / "src" / "raxlab" / "predict" / "data" / "validation"
MEGATRON_VOCAB = 51200  # GPT-2 BPE padded to 51200 (megatron_2021_table1.csv vocab_size)

# NVIDIA/Megatron-LM examples/sc21/run_table_1.sh: (MBS, layers per virtual stage or None, DDP).
TABLE1_SCRIPT = {1.7: (16, None, "torch"), 3.6: (16, None, "torch"), 7.5: (16, None, "torch"),
                 18.4: (8, None, "torch"), 39.1: (4, None, "local"), 76.1: (2, 5, "local"),
                 145.6: (2, 5, "local"), 310.1: (1, 3, "local"), 529.6: (1, 1, "local"),
                 1008.0: (1, None, "local")}
# GPT shapes of the SC21 Table 2 and Korthikanti Table 5 models: (hidden, heads, layers).
GPT_SHAPES = {174.6: (12288, 96, 96), 529.6: (20480, 128, 105), 22: (6144, 64, 48), 175: (12288, 96, 96),
              530: (20480, 128, 105), 1000: (25600, 160, 128)}
# mosaicml/llm-foundry scripts/train/yamls/pretrain/mpt-<size>.yaml: (d_model, n_heads, n_layers).
MPT_SHAPES = {"MPT-125m": (768, 12, 12), "MPT-350m": (1024, 16, 24), "MPT-760m": (1536, 12, 24),
              "MPT-1b": (2048, 16, 24), "MPT-3b": (2560, 20, 32), "MPT-7b": (4096, 32, 32),
              "MPT-13b": (5120, 40, 40), "MPT-30b": (7168, 56, 48), "MPT-70b": (8192, 64, 80)}
MPT_VOCAB = 50368


@dataclass
class Case:
    study: str
    model: str
    gpus: int
    shape: TransformerShape
    layout: Layout
    gpu: str
    server: str
    fabric: str
    rails: int
    precision: str
    basis_flops: float  # FLOPs per step on the published row's basis
    published_tflops: float

    @property
    def layout_text(self) -> str:
        lay = self.layout
        z = (f" z{lay.zero}" + (" blocking" if lay.zero == 3 and lay.zero3_gather == "blocking" else "")
             if lay.zero else "")
        v = f" v{lay.vpp}" if lay.vpp > 1 else ""
        return f"t{lay.tp} p{lay.pp}{v} d{lay.dp}{z} mb{lay.micro_batch} gb{lay.global_batch} rc:{lay.recompute}"


def _read(name: str) -> list[dict]:
    with open(VALIDATION / name, newline="") as f:
        return list(csv.DictReader(f))


def _gpt(h: int, a: int, l: int, seq: int = 2048) -> TransformerShape:
    return TransformerShape(hidden=h, layers=l, heads=a, ffn=4 * h, vocab=MEGATRON_VOCAB, seq=seq)


def table1_cases() -> list[Case]:
    out = []
    for r in _read("megatron_2021_table1.csv"):
        p = float(r["params_B"])
        mbs, per_virtual, ddp = TABLE1_SCRIPT[p]
        l, pp = int(r["num_layers"]), int(r["pipeline_parallel_size"])
        sh = _gpt(int(r["hidden_size"]), int(r["attention_heads"]), l, int(r["seq_len"]))
        lay = Layout(tp=int(r["tensor_parallel_size"]), pp=pp, dp=int(r["data_parallel_size_derived"]),
                     micro_batch=mbs, global_batch=int(r["global_batch_size_sequences"]),
                     vpp=l // (pp * per_virtual) if per_virtual else 1, recompute="full", attention="unfused",
                     overlap_grad_reduce=ddp == "torch")
        flops = megatron_eq3_flops(lay.global_batch, sh.seq, l, sh.hidden, MEGATRON_VOCAB, recompute=True)
        out.append(Case("Megatron SC21 Table 1", f"GPT-{p:g}B", int(r["num_gpus"]), sh, lay, "a100-sxm-80gb",
                        "hgx-a100-80gb-8gpu", "ib-hdr", 8, "fp16", flops, float(r["achieved_tflops_per_gpu"])))
    return out


def _note(r: dict, key: str) -> int | None:
    m = re.search(rf"{key}\s*=\s*(\d+)", r["notes"])
    return int(m.group(1)) if m else None


def sc21_table2_case(r: dict) -> Case:
    p, gpus, gb = float(r["params_B"]), int(r["num_gpus"]), int(r["global_batch_sequences"])
    h, a, l = GPT_SHAPES[p]
    sh = _gpt(h, a, l)
    mb = _note(r, "microbatch")
    if "ZeRO-3" in r["study"]:
        tp = int(re.search(r"M=(\d+)", r["dp_or_sharding"]).group(1))
        # DeepSpeed ZeRO-3 of spring 2021 (the paper's arXiv v1 is April 2021): blocking per-parameter
        # gathers (DeepSpeed PR #1188), so the "blocking" model of predict/sharded.py.
        lay = Layout(tp=tp, dp=gpus // tp, micro_batch=mb, global_batch=gb, zero=3, recompute="full",
                     attention="unfused", zero3_gather="blocking")
    else:
        mp = int(re.search(r"t\*p=(\d+)", r["dp_or_sharding"]).group(1))
        lay = Layout(tp=8, pp=mp // 8, dp=gpus // mp, micro_batch=mb, global_batch=gb, recompute="full",
                     attention="unfused", overlap_grad_reduce=False)
    flops = megatron_eq3_flops(gb, sh.seq, l, h, MEGATRON_VOCAB, recompute=True)
    return Case(r["study"], f"GPT-{p:g}B", gpus, sh, lay, "a100-sxm-80gb", "hgx-a100-80gb-8gpu", "ib-hdr", 8,
                "fp16", flops, float(r["tflops_per_gpu"]))


def korthikanti_case(r: dict) -> Case:
    p, gpus, gb = float(r["params_B"]), int(r["num_gpus"]), int(r["global_batch_sequences"])
    h, a, l = GPT_SHAPES[p]
    sh = _gpt(h, a, l)
    tp, pp = int(r["tp"]), int(r["pp"])
    vpp = 3 if p in (175, 530) else 1  # notes: "interleaving m=3 for 175B/530B"
    lay = Layout(tp=tp, pp=pp, dp=1, micro_batch=4 if p == 22 else 1, global_batch=gb, vpp=vpp,
                 recompute="selective", sequence_parallel=True, attention="unfused")
    flops = megatron_eq3_flops(gb, sh.seq, l, h, MEGATRON_VOCAB, recompute=False)
    return Case("Korthikanti 2022 Table 5", f"GPT-{p:g}B", gpus, sh, lay, "a100-sxm-80gb",
                "hgx-a100-80gb-8gpu", "ib-hdr", 8, "fp16", flops, float(r["mfu_pct"]) / 100 * 312)


def mosaic_case(r: dict) -> Case:
    d, a, l = MPT_SHAPES[r["model"]]
    seq, gpus, gb = int(r["seq_len"]), int(r["num_gpus"]), int(r["global_batch_sequences"])
    sh = TransformerShape(hidden=d, layers=l, heads=a, ffn=4 * d, vocab=MPT_VOCAB, seq=seq, learned_pos=seq)
    # attn_impl: triton (submit_benchmarks.py default): Tri Dao's Triton FlashAttention, the
    # FlashAttention-1 generation -> "flash1".
    fp32_comm = "DEFAULT" in r["dp_or_sharding"]  # composer FSDP mixed_precision DEFAULT: fp32 params/grads
    lay = Layout(dp=gpus, micro_batch=_note(r, "micro_batch"), global_batch=gb, zero=3,
                 recompute="full" if r["activation_recompute"] == "True" else "none", attention="flash1",
                 grad_reduce_bytes=4 if fp32_comm else 2, param_gather_bytes=4 if fp32_comm else 2)
    n = float(r["params_B"]) * 1e9  # collect_results.py uses the logged n_params
    flops = gb * (6 * n * seq + 12 * l * d * seq * seq)
    big = r["gpu"] == "a100_80gb"
    return Case("MosaicML " + ("A100-80GB" if big else "A100-40GB"), r["model"], gpus, sh, lay,
                "a100-sxm-80gb" if big else "a100-sxm-40gb", "hgx-a100-80gb-8gpu" if big else "dgx-a100-320gb",
                "roce-200", 8, "bf16", flops, float(r["tflops_per_gpu"]))


def public_cases() -> list[Case]:
    out = []
    for r in _read("training_points_public.csv"):
        if r["study"].startswith("Megatron-LM SC21"):
            out.append(sc21_table2_case(r))
        elif "Korthikanti" in r["study"]:
            out.append(korthikanti_case(r))
        elif r["study"].startswith("MosaicML"):
            out.append(mosaic_case(r))
    return out


def all_cases() -> list[Case]:
    return table1_cases() + public_cases()


@lru_cache(maxsize=None)
def _hardware(gpu: str, server: str, fabric: str, rails: int):
    from raxlab.catalog import load_catalog

    return hardware_from_catalog(load_catalog(), gpu=gpu, server=server, fabric=fabric, rails=rails)[0]


def predicted_tflops(case: Case, hw=None) -> float:
    hw = hw or _hardware(case.gpu, case.server, case.fabric, case.rails)
    proj = predict_training(case.shape, hw, case.layout, case.precision, gpus=case.gpus)
    return case.basis_flops / proj.step_time_s / case.gpus / 1e12


def errors(cases: list[Case] | None = None) -> list[tuple[Case, float, float]]:
    """(case, predicted TFLOP/s, relative error) for every case."""
    out = []
    for c in cases or all_cases():
        pred = predicted_tflops(c)
        out.append((c, pred, pred / c.published_tflops - 1.0))
    return out


def summary(errs: list[float]) -> dict:
    a = sorted(abs(e) for e in errs)
    return {"n": len(a), "median_abs": statistics.median(a), "p90_abs": a[int(0.9 * (len(a) - 1))],
            "max_abs": a[-1], "mean_signed": statistics.fmean(errs)}


def run() -> list[dict]:
    res = errors()
    rows = [{"study": c.study, "model": c.model, "gpus": c.gpus, "layout": c.layout_text,
             "published": c.published_tflops, "predicted": round(p, 1), "error_%": round(100 * e, 1)}
            for c, p, e in res]
    by_study: dict[str, list[float]] = {}
    for c, _, e in res:
        by_study.setdefault(c.study, []).append(e)
    for study, errs in by_study.items():
        s = summary(errs)
        rows.append({"study": f"SUMMARY {study}", "gpus": s["n"], "error_%": round(100 * s["mean_signed"], 1),
                     "layout": f"median |e| {100 * s['median_abs']:.1f} %, max {100 * s['max_abs']:.1f} %"})
    s = summary([e for _, _, e in res])
    rows.append({"study": "ALL (A100 studies)", "gpus": s["n"], "layout": f"median |e| {100 * s['median_abs']:.1f} %, "
                 f"p90 {100 * s['p90_abs']:.1f} %, max {100 * s['max_abs']:.1f} %",
                 "error_%": round(100 * s["mean_signed"], 1)})
    from benchmarks.validation_bands import all_results
    from benchmarks.validation_bands import rows as band_rows

    return rows + worst_rows(res) + hopper_blackwell_rows() + band_rows(all_results())


def hopper_blackwell_cases():
    """Cases (and skipped rows with reasons) from training_points_hopper_blackwell.csv; a separate
    set of studies, not part of `all_cases()` or the A100-derived error band."""
    from benchmarks.validation_hopper_blackwell import hopper_blackwell_cases as build

    return build()


def hopper_blackwell_rows() -> list[dict]:
    from benchmarks.validation_hopper_blackwell import run_rows

    return run_rows()


def siblings(case: Case, cases: list[Case], n: int = 3) -> list[Case]:
    """The n published runs of the same study, model and recompute setting nearest to `case`
    in sequence length, then GPU count: what the source itself measured next door."""
    def dist(c: Case) -> tuple[float, float]:
        return abs(np.log(c.shape.seq / case.shape.seq)), abs(np.log(c.gpus / case.gpus))
    same = [c for c in cases if c is not case and c.study == case.study and c.model == case.model
            and c.layout.recompute == case.layout.recompute]
    return sorted(same, key=dist)[:n]


def worst_rows(res, limit: float = 0.20) -> list[dict]:
    """One row per miss (|error| > limit) with its nearest published siblings, so a reader can
    tell a model error from a run that the source's own neighbouring runs do not bear out."""
    cases = [c for c, _, _ in res]
    out = []
    for c, p, e in sorted(res, key=lambda r: -abs(r[2])):
        if abs(e) <= limit:
            break
        sib = "; ".join(f"{s.gpus}g s{s.shape.seq} mb{s.layout.micro_batch}: {s.published_tflops:g}"
                        for s in siblings(c, cases)) or "none"
        out.append({"study": f"MISS {c.study}", "model": c.model, "gpus": c.gpus,
                    "layout": f"s{c.shape.seq} mb{c.layout.micro_batch}; siblings {sib}",
                    "published": c.published_tflops, "predicted": round(p, 1), "error_%": round(100 * e, 1)})
    return out


def write_band(path: Path | None = None) -> dict:
    """Store the bands per generation and layout slice in the package (predict/data/error_band.yaml)
    with today's date (benchmarks/validation_bands.py computes them)."""
    import datetime

    import yaml

    from benchmarks.validation_bands import LEVEL, band_document
    from raxlab.predict import errorband

    doc = {"level": LEVEL, "train": band_document()}
    path = path or errorband.BAND_PATH
    head = ("# Relative error bands of the projection model per GPU generation and layout slice, written by\n"
            "# `python -m benchmarks.bench_predict_validation --write-band` (benchmarks/validation_bands.py).\n"
            "# low/high: 10th-90th percentile of published/predicted - 1 of throughput over the slice's rows.\n"
            f"# as_of: {datetime.date.today().isoformat()}. Regenerate after any model change.\n")
    path.write_text(head + yaml.safe_dump(doc, sort_keys=False, width=200))
    return doc


if __name__ == "__main__":
    import sys

    if "--write-band" in sys.argv:
        print(write_band())
