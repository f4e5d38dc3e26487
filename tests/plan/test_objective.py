"""Targets -> objective: defaults labelled, bad targets one-line errors naming the field."""

import pytest

from raxlab.errors import RaxError
from raxlab.plan.entry import with_targets
from raxlab.plan.objective import objective_from_spec


def _spec(name, **targets):
    from raxlab.workload import load_workload

    return with_targets(load_workload(name).spec, [f"{k}={v}" for k, v in targets.items()])


def test_tokens_and_epochs_make_the_work_and_a_missing_deadline_is_an_assumption():
    obj = objective_from_spec(_spec("megatron-1.7b", epochs=2), tokens_per_sample=2048)
    assert obj.unit == "tokens" and obj.work == 6e11
    assert obj.deadline_assumed and obj.deadline_s == 30 * 86400
    assert any(a.startswith("deadline = 30 days (estimate:") for a in obj.assumptions)
    assert obj.needed_rate == pytest.approx(6e11 / (30 * 86400))


def test_samples_epochs_for_a_vision_model_and_given_tco_inputs_are_not_assumed():
    obj = objective_from_spec(_spec("small-cnn", tco_years=5, pue=1.1, electricity_usd_per_kwh=0.2), None)
    assert (obj.unit, obj.work, obj.deadline_s) == ("samples", 1e7, 2 * 3600)
    assert (obj.tco_years, obj.pue, obj.electricity_usd_per_kwh) == (5, 1.1, 0.2)
    assert not any("pue" in a or "tco_years" in a for a in obj.assumptions)
    assert obj.per_unit == ("USD per sample", 1.0)


def test_throughput_in_samples_converts_to_tokens():
    obj = objective_from_spec(_spec("megatron-1.7b", throughput_samples_per_s=10), 2048)
    assert obj.rate_required == 20480 and obj.deadline_s is None


@pytest.mark.parametrize("name, targets, field", [
    ("small-cnn", {"tokens": 1e9, "samples": "none"}, "targets.tokens"),
    ("small-cnn", {"throughput_tokens_per_s": 5}, "targets.throughput_tokens_per_s"),
    ("megatron-1.7b", {"deadline_days": 0}, "targets.deadline_days"),
    ("megatron-1.7b", {"budget_usd": 0}, "targets.budget_usd"),
    ("megatron-1.7b", {"pue": 0.9}, "targets"),
    ("megatron-1.7b", {"deadline_dayz": 3}, "targets.deadline_dayz"),
])
def test_bad_targets_are_one_line_errors_naming_the_field(name, targets, field):
    with pytest.raises(RaxError) as e:
        objective_from_spec(_spec(name, **targets), None if name == "small-cnn" else 2048)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(field)


def test_training_without_work_or_throughput_and_inference_without_a_rate_are_errors():
    from raxlab.workload import load_workload

    spec = load_workload("megatron-1.7b").spec
    no_work = spec.model_copy(update={"targets": spec.targets.model_copy(update={"tokens": None})})
    with pytest.raises(RaxError, match=r"^targets\.tokens: a training plan needs work"):
        objective_from_spec(no_work, 2048)
    infer = spec.model_copy(update={"task": "infer"})
    with pytest.raises(RaxError, match=r"^targets\.request_rate_per_s"):
        objective_from_spec(infer, 2048)


def test_a_target_override_that_is_not_key_value_names_the_flag():
    spec = _spec("tiny-lm")
    with pytest.raises(RaxError, match=r"^--target: expected KEY=VALUE"):
        with_targets(spec, ["deadline_days"])
    with pytest.raises(RaxError, match=r"^targets\.budget_usd: not a number"):
        with_targets(spec, ["budget_usd=lots"])
    assert with_targets(spec, ["deadline_hours=none"]).targets.deadline_hours is None
