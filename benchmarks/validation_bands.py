"""Error bands per GPU generation and layout family, with their coverage, from every validation row.

Each projectable published run (A100 studies of bench_predict_validation, the H100/B200 rows of
validation_hopper_blackwell) gets its error e = predicted / published − 1 (throughput) and goes
into the slices `errorband.slice_keys` names for it (its generation's fp8 / long_seq / layout
family / all). Per slice: n, median and p90 |e|, max |e|, median signed e, the band (10th-90th
percentile of published / predicted − 1), its in-sample coverage, and its leave-one-study-out
coverage: each study's rows checked against the band the other studies give, which is what a
held-out set will see. Targets per slice with at least `errorband.MIN_ROWS` rows (issue 16):
median |e| ≤ 8 %, max ≤ 20 %, |median signed| ≤ 3 %, coverage within ±10 points of 80 %.
"""

from __future__ import annotations

import numpy as np

from raxlab.predict import errorband
from raxlab.predict.kernels import family_of

LEVEL = 0.8
TARGETS = {"median_abs": 0.08, "max_abs": 0.20, "median_signed": 0.03, "coverage": 0.10}


def generation(gpu: str) -> str:
    found = family_of(gpu)
    return found[0] if found else gpu


def case_keys(case) -> list[str]:
    """The slices a case's error belongs to (fine-tuning rows only to `finetune`)."""
    task = getattr(case, "row", {}).get("task", "pretrain") if hasattr(case, "row") else "pretrain"
    if task != "pretrain":
        return ["finetune"]
    lay = case.layout
    fam = errorband.layout_family(lay.zero, lay.pp, lay.tp)
    return errorband.slice_keys(fam, case.precision, case.shape.seq, getattr(lay, "cp", 1))


def all_results():
    """[(case, predicted TFLOP/s, e)] over every projectable validation row."""
    from benchmarks import bench_predict_validation as base
    from benchmarks.validation_hopper_blackwell import hopper_blackwell_cases

    hb, _ = hopper_blackwell_cases()
    return base.errors(base.all_cases()) + base.errors(hb)


def _band_of(errs: np.ndarray) -> tuple[float, float]:
    corr = 1.0 / (1.0 + errs) - 1.0  # published / predicted − 1
    lo, hi = (1 - LEVEL) / 2 * 100, (1 + LEVEL) / 2 * 100
    return float(np.percentile(corr, lo)), float(np.percentile(corr, hi))


def _inside(errs: np.ndarray, lo: float, hi: float) -> np.ndarray:
    corr = 1.0 / (1.0 + errs) - 1.0
    return (corr >= lo) & (corr <= hi)


def _widen(lo: float, hi: float, mid: float, k: float) -> tuple[float, float]:
    return mid - k * (mid - lo), mid + k * (hi - mid)


def loso_coverage(errs: np.ndarray, studies: list[str], k: float = 1.0) -> float | None:
    """Share of rows inside the band computed from the other studies of the slice, widened by k
    about its median (None when no study can be held out with MIN_ROWS rows left)."""
    inside, total = 0, 0
    studies_a = np.array(studies)
    for s in sorted(set(studies)):
        rest = errs[studies_a != s]
        if len(rest) < errorband.MIN_ROWS:
            continue
        lo, hi = _widen(*_band_of(rest), float(np.median(1.0 / (1.0 + rest) - 1.0)), k)
        mine = errs[studies_a == s]
        inside += int(_inside(mine, lo, hi).sum())
        total += len(mine)
    return inside / total if total else None


def widening(errs: np.ndarray, studies: list[str]) -> float | None:
    """The smallest factor (≥ 1) by which the percentile band must be widened about its median
    so that studies held out one at a time fall inside it at the stated level: rows of one study
    share its biases, so in-sample percentiles cover a new study less often than they claim
    (a leave-one-study-out calibration of the band's width)."""
    if loso_coverage(errs, studies) is None:
        return None
    for k in np.arange(1.0, 6.0001, 0.05):
        if loso_coverage(errs, studies, float(k)) >= LEVEL:
            return round(float(k), 2)
    return 6.0


def slice_stats(res) -> dict[str, dict[str, dict]]:
    """{generation: {slice: stats}}."""
    groups: dict[tuple[str, str], list[tuple[float, str]]] = {}
    for c, _, e in res:
        for key in case_keys(c):
            groups.setdefault((generation(c.gpu), key), []).append((e, c.study))
    out: dict[str, dict[str, dict]] = {}
    for (gen, key), items in sorted(groups.items()):
        errs, studies = np.array([e for e, _ in items]), [s for _, s in items]
        k = widening(errs, studies)
        # a slice of one study cannot be held out: it takes its generation's widening (or 1.5)
        k_used = k if k is not None else _generation_k(groups, gen, key)
        mid = float(np.median(1.0 / (1.0 + errs) - 1.0))
        lo, hi = _widen(*_band_of(errs), mid, k_used)
        a = np.abs(errs)
        out.setdefault(gen, {})[key] = {
            "n": int(len(errs)), "low": round(lo, 3), "high": round(hi, 3),
            "median_abs": round(float(np.median(a)), 3), "p90_abs": round(float(np.percentile(a, 90)), 3),
            "max_abs": round(float(a.max()), 3), "median_signed": round(float(np.median(errs)), 3),
            "widening": k_used, "coverage": round(float(_inside(errs, lo, hi).mean()), 3),
            "coverage_loso": _round(loso_coverage(errs, studies, k_used)),
            "studies": sorted(set(studies))}
    return out


def _generation_k(groups, gen: str, key: str) -> float:
    items = groups.get((gen, "all"), [])
    k = widening(np.array([e for e, _ in items]), [s for _, s in items]) if key != "all" and items else None
    return k if k is not None else 1.5


def _round(x):
    return None if x is None else round(float(x), 3)


def widest(stats: dict) -> dict:
    """The envelope of the validated slices' bands: what an unvalidated generation gets."""
    ok = [v for g in stats.values() for v in g.values() if v["n"] >= errorband.MIN_ROWS]
    lo, hi = min(v["low"] for v in ok), max(v["high"] for v in ok)
    return {"low": round(min(lo, -0.3), 3), "high": round(max(hi, 0.3), 3), "n": 0,
            "median_abs": round(max(abs(lo), hi), 3),
            "basis": "envelope of every validated slice's band (at least -30 % / +30 %)"}


def passes(v: dict) -> bool | None:
    if v["n"] < errorband.MIN_ROWS:
        return None
    cov = v["coverage_loso"] if v["coverage_loso"] is not None else v["coverage"]
    return (v["median_abs"] <= TARGETS["median_abs"] and v["max_abs"] <= TARGETS["max_abs"]
            and abs(v["median_signed"]) <= TARGETS["median_signed"] and abs(cov - LEVEL) <= TARGETS["coverage"])


def rows(res=None) -> list[dict]:
    stats = slice_stats(res or all_results())
    out = []
    for gen, slices in stats.items():
        for key, v in slices.items():
            cov = "N/A" if v["coverage_loso"] is None else f"{100 * v['coverage_loso']:.0f}"
            out.append({"study": f"BAND {gen}/{key}", "gpus": v["n"], "error_%": round(100 * v["median_signed"], 1),
                        "layout": f"|e| med {100 * v['median_abs']:.1f} p90 {100 * v['p90_abs']:.1f} max "
                                  f"{100 * v['max_abs']:.1f}; band {100 * v['low']:+.0f}/{100 * v['high']:+.0f} % "
                                  f"(x{v['widening']:g}); coverage {100 * v['coverage']:.0f} % in-sample, "
                                  f"{cov} % held-out study", "pass": passes(v)})
    return out


def band_document(res=None) -> dict:
    """The `train` entry of error_band.yaml."""
    stats = slice_stats(res or all_results())
    gens = {g: {k: {kk: vv for kk, vv in v.items() if kk != "studies"} | {"basis": _basis(g, k, v)}
                for k, v in slices.items()} for g, slices in stats.items()}
    return {"generations": gens, "widest": widest(stats)}


def _basis(gen: str, key: str, v: dict) -> str:
    return (f"{v['n']} published {gen} runs ({key}): " + "; ".join(v["studies"][:6])
            + ("; ..." if len(v["studies"]) > 6 else "")
            + f"; {100 * LEVEL:.0f} % band = 10th-90th percentile of published/predicted - 1, widened x{v['widening']:g} "
              "so held-out studies fall inside at that level")
