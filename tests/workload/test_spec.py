"""WorkloadSpec: strict keys, target validation, path resolution, YAML errors."""

import math

import pytest

from raxlab.errors import RaxError
from raxlab.workload.spec import Targets, load_spec_file, parse_spec

BASE = {"name": "x", "model": "small-cnn", "data": "shapes"}


def test_minimal_spec_defaults():
    spec = parse_spec(dict(BASE))
    assert spec.task == "train" and spec.micro_batch == 1 and spec.effective_global_batch == 1
    assert spec.data.path == "shapes" and spec.precisions == ["fp32", "bf16"]
    assert spec.meta_only is False and spec.trust_code is False


def test_unknown_top_level_key_lists_allowed():
    with pytest.raises(RaxError, match=r"seqlen: unknown key; allowed: .*seq_len"):
        parse_spec({**BASE, "seqlen": 128})


def test_unknown_target_key_names_nested_field():
    with pytest.raises(RaxError, match=r"targets\.budget: unknown key; allowed: .*budget_usd"):
        parse_spec({**BASE, "targets": {"budget": 5}})


@pytest.mark.parametrize("field,value", [("budget_usd", -1), ("tokens", math.inf), ("pue", math.nan)])
def test_targets_must_be_finite_non_negative(field, value):
    with pytest.raises(RaxError, match=rf"targets\.{field}: .*non-negative finite"):
        parse_spec({**BASE, "targets": {field: value}})


@pytest.mark.parametrize("targets,msg", [
    ({"tokens": 1, "samples": 1}, "tokens or samples"),
    ({"deadline_days": 1, "deadline_hours": 2}, "deadline_days or deadline_hours"),
    ({"latency_p99_ms": 50}, "request_rate_per_s"),
    ({"pue": 0.8}, "pue must be >= 1"),
])
def test_targets_consistency(targets, msg):
    with pytest.raises(RaxError, match=msg):
        parse_spec({**BASE, "targets": targets})


def test_targets_si_views_and_totals():
    t = Targets(tokens=1e9, epochs=2, deadline_days=1.5, power_kw=40, latency_p99_ms=20, request_rate_per_s=5)
    assert t.deadline_s == 1.5 * 86400 and t.power_w == 40e3 and t.latency_p99_s == 0.02
    assert t.total_tokens() == 2e9 and t.total_samples(tokens_per_sample=1000) == 2e6
    assert Targets(samples=10).total_tokens(tokens_per_sample=128) == 1280


@pytest.mark.parametrize("field,value,msg", [
    ("task", "pretrain", "task"), ("precisions", ["fp4"], "precisions.0"), ("micro_batch", 0, "micro_batch"),
    ("seq_len", -5, "seq_len"), ("model", {"hidden_size": 8}, "model_type"),
])
def test_bad_values_name_the_field(field, value, msg):
    with pytest.raises(RaxError, match=msg):
        parse_spec({**BASE, field: value})


def test_global_batch_not_below_micro():
    with pytest.raises(RaxError, match="global_batch"):
        parse_spec({**BASE, "micro_batch": 8, "global_batch": 4})


def test_relative_paths_resolve_against_spec_dir(tmp_path, write_spec):
    sub = tmp_path / "proj"
    sub.mkdir()
    (sub / "d.txt").write_text("hello")
    path = sub / "spec.yaml"
    path.write_text("name: t\nmodel: small-cnn\ndata: d.txt\n")
    spec = load_spec_file(path)
    assert spec.resolve(spec.data.path) == (sub / "d.txt").resolve()


def test_malformed_yaml_gives_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("name: t\nmodel: [unclosed\n")
    with pytest.raises(RaxError, match=r"malformed YAML in .*bad.yaml at line \d+"):
        load_spec_file(p)


def test_yaml_must_be_mapping(tmp_path):
    p = tmp_path / "list.yaml"
    p.write_text("- a\n- b\n")
    with pytest.raises(RaxError, match="must be a YAML mapping"):
        load_spec_file(p)


def test_base_dir_is_not_settable():
    with pytest.raises(RaxError, match="base_dir"):
        parse_spec({**BASE, "base_dir": "/"})
