"""The workload spec's `candidates` block limits what the planner may propose."""

import pytest
import yaml

from raxlab.errors import RaxError
from raxlab.plan.entry import plan_workload
from raxlab.plan.planner import PlanOptions
from raxlab.plan.space import SpaceOptions


def _spec(tmp_path, candidates):
    spec = tmp_path / "w.yaml"
    spec.write_text(yaml.safe_dump({
        "name": "w", "model": "megatron-1.7b", "data": "tiny-text", "seq_len": 2048, "global_batch": 512,
        "precisions": ["bf16"], "targets": {"tokens": 2.0e10, "deadline_days": 10}, "candidates": candidates}))
    return str(spec)


def test_spec_candidates_limit_the_search_and_are_stated(tmp_path, catalog):
    ref = _spec(tmp_path, {"accelerators": ["h100-sxm"], "fabrics": ["roce-400", "tcp-100"],
                           "reason": "CUDA-only stack"})
    plan = plan_workload(ref, catalog)
    assert plan["recommendation"]["accelerator"] == "h100-sxm"
    assert {row["fabric"] for row in plan["verdicts"]["network"]["rows"]} <= {"roce-400", "tcp-100"}
    assert any("CUDA-only stack" in a for a in plan["assumptions"])


def test_command_line_lists_win_over_the_spec(tmp_path, catalog):
    ref = _spec(tmp_path, {"accelerators": ["h100-sxm"]})
    opts = PlanOptions(space=SpaceOptions(accelerators=("a100-sxm-80gb",)))
    assert plan_workload(ref, catalog, options=opts)["recommendation"]["accelerator"] == "a100-sxm-80gb"


def test_unknown_candidate_names_the_spec_field(tmp_path, catalog):
    with pytest.raises(RaxError, match="candidates.accelerators: unknown accelerator 'h100'"):
        plan_workload(_spec(tmp_path, {"accelerators": ["h100"]}), catalog)
