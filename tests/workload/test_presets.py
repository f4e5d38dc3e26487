"""Built-in presets: complete specs, published shapes, small package data, `rax presets`."""

import csv
import json
from pathlib import Path

import pytest

from raxlab.workload import load_workload
from raxlab.workload.presets import PRESET_DIR, SAMPLE_DIR, load_preset, preset_names

VALIDATION = Path(__file__).resolve().parents[2] / "src" / "raxlab" / "predict" / "data" / "validation" / "megatron_2021_table1.csv"
META = ["gpt3-175b", "llama3-8b", "llama3-70b", "llama3-405b"]


def _megatron_rows():
    assert VALIDATION.exists(), f"validation data missing: {VALIDATION}"
    with VALIDATION.open() as f:
        return list(csv.DictReader(f))


def test_required_presets_exist():
    names = set(preset_names())
    assert {"tiny-lm", "small-cnn", *META} <= names
    assert sum(n.startswith("megatron-") for n in names) == 10


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_is_a_complete_spec(name):
    wl = load_workload(name)
    assert wl.name == name and wl.kind in ("lm", "vision")
    assert wl.spec.description and wl.spec.source
    assert wl.data_path.exists()
    assert wl.meta_only == (name not in ("tiny-lm", "small-cnn", "tiny-moe", "tiny-moe-dense"))


def test_megatron_presets_match_table1():
    for row in _megatron_rows():
        p = row["params_B"]
        spec = load_preset("megatron-" + (p[:-2] if p.endswith(".0") else p) + "b")
        m = spec.model
        assert (m["n_embd"], m["n_layer"], m["n_head"]) == (
            int(row["hidden_size"]), int(row["num_layers"]), int(row["attention_heads"]))
        assert m["vocab_size"] == int(row["vocab_size"]) == 51200
        assert spec.seq_len == int(row["seq_len"]) == 2048
        assert spec.global_batch == int(row["global_batch_size_sequences"])


def test_package_data_stays_small():
    total = sum(f.stat().st_size for d in (PRESET_DIR, SAMPLE_DIR) for f in d.rglob("*") if f.is_file())
    assert total < 300_000, total
    images = list((SAMPLE_DIR / "shapes").rglob("*.png"))
    assert 50 <= len(images) <= 200


def test_text_samples_are_long_enough_for_every_lm_preset():
    for name in preset_names():
        spec = load_preset(name)
        if spec.data.path in ("tiny-text", "long-text"):
            assert (SAMPLE_DIR / f"{spec.data.path}.txt").stat().st_size >= (spec.seq_len or 0), name


def test_long_text_is_tiny_text_repeated():
    tiny = (SAMPLE_DIR / "tiny-text.txt").read_bytes()
    assert (SAMPLE_DIR / "long-text.txt").read_bytes() == tiny * 15


def test_rax_presets_json(rax):
    code, out, _ = rax("presets", "--json")
    assert code == 0
    rows = {r["name"]: r for r in json.loads(out)}
    assert set(rows) == set(preset_names())
    assert rows["gpt3-175b"]["meta_only"] and rows["gpt3-175b"]["targets"]["tokens"] == 3e11
    assert rows["small-cnn"]["kind"] == "vision" and rows["tiny-lm"]["seq_len"] == 128


def test_rax_presets_table(rax):
    code, out, _ = rax("presets")
    assert code == 0 and "llama3-405b" in out and "megatron-1008b" in out
