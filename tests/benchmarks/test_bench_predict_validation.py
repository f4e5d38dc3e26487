"""The validation benchmark projects every published row, and its miss list reads correctly."""

from __future__ import annotations

import csv
import math

from benchmarks import bench_predict_validation as bench


def _csv_rows(name: str) -> list[dict]:
    with open(bench.VALIDATION / name, newline="") as f:
        return list(csv.DictReader(f))


def test_every_published_row_is_projected():
    public = [r for r in _csv_rows("training_points_public.csv")
              if r["study"].startswith(("Megatron-LM SC21", "MosaicML")) or "Korthikanti" in r["study"]]
    res = bench.errors()
    assert len(res) == len(_csv_rows("megatron_2021_table1.csv")) + len(public)
    assert all(math.isfinite(p) and p > 0 for _, p, _ in res)


def test_siblings_share_study_model_and_recompute_and_exclude_the_row():
    cases = bench.all_cases()
    case = next(c for c in cases if c.model == "MPT-1b" and c.gpus == 32)
    sib = bench.siblings(case, cases)
    assert sib and case not in sib
    assert all((s.study, s.model, s.layout.recompute) == (case.study, case.model, case.layout.recompute)
               for s in sib)
    # nearest first: same sequence length before any other
    assert sib[0].shape.seq == case.shape.seq


def test_worst_rows_list_exactly_the_misses_worst_first():
    res = bench.errors()
    rows = bench.worst_rows(res, limit=0.20)
    misses = sorted((abs(e) for _, _, e in res if abs(e) > 0.20), reverse=True)
    assert [abs(r["error_%"]) for r in rows] == [round(100 * m, 1) for m in misses]
