"""Inference: replicas sized from the per-replica capacity at the p99 bound, checked by hand
against the scalar serving projection."""

import math

import pytest

from raxlab.plan.defaults import default


@pytest.fixture(scope="module")
def serving(make_module, cards):
    from raxlab.workload.spec import Targets

    spec, _ = cards("llama3-8b")
    spec = spec.model_copy(update={"task": "infer", "seq_len": 2048,
                                   "targets": Targets(request_rate_per_s=40, latency_p99_ms=8000)})
    return make_module("llama3-8b", spec=spec, accelerators=["h100-sxm", "l40s"])


def test_replicas_come_from_the_capacity_at_the_p99_bound(serving, catalog, cards):
    from raxlab.predict.adapter import hardware_from_catalog
    from raxlab.predict.api import predict_inference
    from raxlab.predict.shape import shape_from_card

    rec = serving["recommendation"]
    _, card = cards("llama3-8b")
    shape = shape_from_card(card, seq=2048)
    hw, _ = hardware_from_catalog(catalog, gpu=rec["accelerator"], server=rec["server"])
    tp, batch = rec["layout"]["tp"], rec["batch"]
    out = predict_inference(shape, hw, tp=tp, batches=(batch, 2 * batch), prompt=2048, gen=256,
                            precision=rec["precision"])
    row, bigger = out["per_batch"]
    p99 = row["request_latency_s"] + row["ttft_s"]
    assert row["fits"] and p99 <= 8.0 and rec["p99_latency_s"] == pytest.approx(p99)
    cap = batch / row["request_latency_s"] * default("serving_utilisation").value
    assert rec["capacity_per_replica_rps"] == pytest.approx(cap)
    assert rec["replicas"] == math.ceil(40 / cap) and rec["gpus"] == rec["replicas"] * tp
    assert rec["nodes"] == math.ceil(rec["gpus"] / catalog.server(rec["server"]).gpus_per_node)
    # the next batch size breaks the bound or the memory (else it would have been chosen)
    assert (not bigger["fits"]) or bigger["request_latency_s"] + bigger["ttft_s"] > 8.0 or 2 * batch > 512


def test_serving_plan_keys_and_network_sentence(serving):
    assert serving["recommendation"]["meets_targets"] and serving["recommendation"]["time_to_target_s"] is None
    net = serving["verdicts"]["network"]
    assert net["decision"] == "no-gpu-traffic-between-nodes" and "no GPU traffic crosses nodes" in net["sentence"]
    assert serving["acceptance"]["projected"]["error_band"] is None
    assert any("not validated" in a for a in serving["assumptions"])
    scale = serving["verdicts"]["scale"]["points"]
    assert [p["replicas"] for p in scale] == sorted(p["replicas"] for p in scale)


def test_an_impossible_latency_bound_is_a_one_line_error(make, cards):
    from raxlab.errors import RaxError
    from raxlab.workload.spec import Targets

    spec, _ = cards("llama3-8b")
    spec = spec.model_copy(update={"task": "infer", "seq_len": 2048,
                                   "targets": Targets(request_rate_per_s=40, latency_p99_ms=1)})
    with pytest.raises(RaxError, match=r"^targets\.latency_p99_ms: no candidate can serve"):
        make("llama3-8b", spec=spec, accelerators=["l40s"])
