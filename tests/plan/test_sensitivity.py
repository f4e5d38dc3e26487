"""Sensitivity: the GPU choice under each generation's own error band, and cost intervals."""

import pytest


@pytest.fixture(scope="module")
def plan(make_module):
    return make_module("megatron-1.7b", targets={"deadline_days": 6}, accelerators=["a100-sxm-80gb", "h100-sxm"],
                       fabrics=["ib-ndr", "ib-hdr"])


def test_each_generation_at_both_ends_of_its_band(plan):
    rows = [r for r in plan["sensitivity"]["rows"] if r["kind"] == "generation"]
    names = [r["scenario"] for r in rows]
    for gen in ("ampere", "hopper"):
        assert any(n.startswith(f"{gen} at the low end") for n in names)
        assert any(n.startswith(f"{gen} at the high end") for n in names)
    assert all("validated runs" in n for n in names)  # both generations have validated bands


def test_accelerator_rows_carry_cost_intervals_and_counts(plan):
    rows = plan["verdicts"]["accelerator"]["rows"]
    assert {r["accelerator"] for r in rows} == {"a100-sxm-80gb", "h100-sxm"}
    for r in rows:
        lo, hi = r["cost_per_unit_interval"]
        assert lo < r["cost_per_unit"] < hi and r["band_rows"] >= 10 and r["band_validated"]
    overlap = rows[0]["cost_per_unit_interval"][1] >= rows[1]["cost_per_unit_interval"][0]
    assert plan["verdicts"]["accelerator"]["intervals_overlap"] == overlap
    assert ("not settled" in plan["verdicts"]["accelerator"]["sentence"]) == overlap
