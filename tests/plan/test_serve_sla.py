"""Serving SLAs (TTFT, TPOT) and the tokens/s/GPU vs tokens/s/user front: hand-computed small cases,
then a real serving plan whose front and recommendation must respect the SLA."""

import numpy as np
import pytest

from raxlab.errors import RaxError
from raxlab.plan.serve_sla import front, meets_sla, ttft_p99


def test_front_keeps_exactly_the_undominated_points():
    x = [3, 2, 1, 2, 0.5, 3]
    y = [1, 2, 3, 1, 3, 0.5]
    # (2,1) loses to (2,2) on y at equal x; (0.5,3) to (1,3) on x at equal y; (3,0.5) to (3,1)
    assert front(x, y) == [0, 1, 2]


def test_front_keeps_exact_duplicates_and_a_single_point():
    assert sorted(front([1, 1, 0], [1, 1, 0])) == [0, 1]  # equal points do not dominate each other
    assert front([5], [7]) == [0]
    assert front([], []) == []


def test_front_of_a_random_cloud_matches_the_pairwise_definition():
    rng = np.random.default_rng(7)
    x, y = rng.integers(0, 12, 300).astype(float), rng.integers(0, 12, 300).astype(float)  # many ties
    dominated = {j for j in range(300) for k in range(300)
                 if x[k] >= x[j] and y[k] >= y[j] and (x[k] > x[j] or y[k] > y[j])}
    assert set(front(x, y)) == set(range(300)) - dominated


class _Obj:
    latency_p99_s, ttft_s, tpot_s = None, 0.5, 0.02


def test_sla_filter_applies_every_given_bound_and_memory():
    fits = np.array([True, True, True, False, True])
    ttft = np.array([0.4, 0.6, 0.5, 0.1, 0.1])
    tpot = np.array([0.01, 0.01, 0.02, 0.01, 0.03])
    assert meets_sla(fits, ttft=ttft, tpot=tpot, obj=_Obj()).tolist() == [True, False, True, False, False]
    none = type("O", (), {"latency_p99_s": None, "ttft_s": None, "tpot_s": None})()
    assert meets_sla(fits, ttft=ttft, tpot=tpot, obj=none).tolist() == fits.tolist()  # no bound: memory only
    assert ttft_p99(np.array([0.1, 0.25])).tolist() == [0.2, 0.5]  # an in-flight prefill, then its own


@pytest.fixture(scope="module")
def sla_plan(make_module, cards):
    from raxlab.workload.spec import Targets

    spec, _ = cards("llama3-8b")
    spec = spec.model_copy(update={"task": "infer", "seq_len": 2048,
                                   "targets": Targets(request_rate_per_s=40, ttft_ms=1500, tpot_ms=4)})
    return make_module("llama3-8b", spec=spec, accelerators=["h100-sxm", "l40s"])


def test_the_recommendation_and_every_front_point_meet_the_sla(sla_plan):
    rec, sv = sla_plan["recommendation"], sla_plan["serving"]
    assert rec["ttft_p99_s"] <= 1.5 and rec["tpot_s"] <= 0.004 and rec["meets_targets"]
    assert rec["tokens_per_s_per_user"] == pytest.approx(1 / rec["tpot_s"])
    assert sv["label"] == "projected" and sv["error_band"] is None and "N/A" in sv["band"]
    for part in ("pareto", "pareto_recommended_design"):
        pts = sv[part]["points"]
        assert pts and all(p["ttft_p99_s"] <= 1.5 and p["tpot_s"] <= 0.004 for p in pts)
        xy = [(p["tokens_per_s_per_gpu"], p["tokens_per_s_per_user"]) for p in pts]
        assert front([a for a, _ in xy], [b for _, b in xy]) == list(range(len(xy)))  # none dominates another
    design = sv["pareto_recommended_design"]["points"]
    assert {(p["accelerator"], p["precision"]) for p in design} == {(rec["accelerator"], rec["precision"])}
    assert sum(p["recommended"] for p in sv["pareto"]["points"] + design) <= 2
    assert "TTFT" in sla_plan["guideline"][0] and "tokens/s per GPU" in sla_plan["guideline"][0]


def test_a_tighter_tpot_moves_the_recommendation_to_a_faster_stream(make, cards, sla_plan):
    from raxlab.workload.spec import Targets

    spec, _ = cards("llama3-8b")
    tight = sla_plan["recommendation"]["tpot_s"] * 0.9 * 1e3
    spec = spec.model_copy(update={"task": "infer", "seq_len": 2048,
                                   "targets": Targets(request_rate_per_s=40, ttft_ms=1500, tpot_ms=tight)})
    try:
        plan = make("llama3-8b", spec=spec, accelerators=["h100-sxm", "l40s"])
    except RaxError as e:  # nothing that fast: the error names the SLA
        assert str(e).startswith("targets.ttft_ms") or str(e).startswith("targets.tpot_ms")
        return
    assert plan["recommendation"]["tpot_s"] <= tight / 1e3 < sla_plan["recommendation"]["tpot_s"]


@pytest.mark.parametrize("task, targets, match", [
    ("train", {"ttft_ms": 200, "request_rate_per_s": 1, "tokens": 1e9}, r"^targets\.ttft_ms: a serving target"),
    ("infer", {"tpot_ms": 20}, "tpot_ms needs request_rate_per_s"),
])
def test_serving_targets_are_checked(cards, task, targets, match):
    from raxlab.plan.objective import objective_from_spec
    from raxlab.workload.spec import parse_spec

    spec, card = cards("llama3-8b")
    data = spec.model_dump(mode="json", exclude={"base_dir"})
    data.update(task=task, targets=targets)
    with pytest.raises(RaxError, match=match):
        objective_from_spec(parse_spec(data, base_dir=spec.base_dir, where="test"), card.tokens_per_sample)


def test_the_serving_launch_block_is_the_recommended_replica(sla_plan, catalog, cards):
    from raxlab.plan.artefacts import render
    from raxlab.plan.launch_target import from_plan
    from raxlab.predict.shape import shape_from_card

    rec = sla_plan["recommendation"]
    block = from_plan(sla_plan, shape_from_card(cards("llama3-8b")[1], seq=2048), catalog)
    s = block["serving"]
    assert (s["tp"], s["max_num_seqs"], s["replicas"]) == (rec["layout"]["tp"], rec["batch"], rec["replicas"])
    assert s["max_model_len"] == 2048 + sla_plan["serving"]["gen_tokens"]
    vllm = render(block)["vllm.sh"]
    assert f"--max-num-seqs {rec['batch']}" in vllm and f"--tensor-parallel-size {rec['layout']['tp']}" in vllm
