"""Workload: real batches from real samples train a step; readers for every format."""

import json

import numpy as np
import pytest
import torch

from raxlab.errors import RaxError
from raxlab.workload import load_workload
from raxlab.workload.tokenizer import ByteTokenizer
from raxlab.workload.workload import Workload
from raxlab.workload.spec import load_spec_file


def _train_step(wl, batch_size):
    torch.manual_seed(0)
    model = wl.build_model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch = wl.make_batch(batch_size)
    before = [p.detach().clone() for p in model.parameters()]
    loss = wl.loss(model, batch)
    loss.backward()
    opt.step()
    changed = any(not torch.equal(a, p) for a, p in zip(before, model.parameters()))
    return float(loss.detach()), changed, batch


def test_tiny_lm_trains_a_step_on_real_text():
    wl = load_workload("tiny-lm")
    loss, changed, batch = _train_step(wl, 4)
    assert np.isfinite(loss) and changed
    assert batch["input_ids"].shape == (4, 128) and batch["input_ids"].dtype == torch.long
    text = ByteTokenizer().decode(batch["input_ids"][0].tolist())
    assert text.isprintable() or "\n" in text  # real bytes of the bundled prose
    assert 1e6 < sum(p.numel() for p in wl.build_model().parameters()) < 5e6
    assert wl.tokens_per_sample == 128 and wl.forward(wl.build_model(), batch).shape == (4, 128, 320)


def test_small_cnn_trains_a_step_on_real_images():
    wl = load_workload("small-cnn")
    loss, changed, batch = _train_step(wl, 8)
    assert np.isfinite(loss) and changed
    px = batch["pixel_values"]
    assert px.shape == (8, 3, 32, 32) and 0.0 <= float(px.min()) and float(px.max()) <= 1.0
    assert set(batch["labels"].tolist()) <= {0, 1, 2, 3}
    assert wl.tokens_per_sample is None and wl.layer_shape is None


def test_make_batch_is_seeded_and_dataset_matches_collate():
    wl = load_workload("small-cnn")
    a, b = wl.make_batch(4, seed=3), wl.make_batch(4, seed=3)
    assert torch.equal(a["pixel_values"], b["pixel_values"])
    assert not torch.equal(a["pixel_values"], wl.make_batch(4, seed=4)["pixel_values"])
    ds = wl.dataset()
    assert len(ds) == 64
    loaded = next(iter(torch.utils.data.DataLoader(ds, batch_size=5)))
    assert loaded["pixel_values"].shape == (5, 3, 32, 32) and loaded["labels"].shape == (5,)


def test_batch_larger_than_sample_draws_with_replacement():
    assert load_workload("small-cnn").make_batch(100)["labels"].shape == (100,)


def test_sample_bytes_and_decode_time():
    lm, cnn = load_workload("tiny-lm"), load_workload("small-cnn")
    # byte tokens: one token per byte on disk (+ one EOS over the whole file)
    assert lm.sample_bytes_per_sample == pytest.approx(128, rel=1e-3)
    size = sum(f.stat().st_size for f in cnn.data_path.rglob("*.png"))
    assert cnn.sample_bytes_per_sample == pytest.approx(size / 64)
    assert 0 < cnn.decode_s_per_sample < 0.1 and 0 < lm.decode_s_per_sample < 0.1


def test_meta_only_refuses_real_devices_but_builds_on_meta():
    wl = load_workload("llama3-8b")
    with pytest.raises(RaxError, match="meta_only"):
        wl.build_model("cpu")
    model = wl.build_model("meta", num_layers=1)
    assert next(model.parameters()).device.type == "meta"


def _lm_spec(write_spec, data, **extra):
    return write_spec(model="tiny-lm", data=data, seq_len=16, **extra)


def test_jsonl_text_field(tmp_path, write_spec):
    lines = [json.dumps({"body": f"document {i} " * 5, "id": i}) for i in range(4)]
    (tmp_path / "d.jsonl").write_text("\n".join(lines) + "\n")
    wl = load_workload(str(_lm_spec(write_spec, {"path": "d.jsonl", "text_field": "body"})))
    assert wl.make_batch(2)["input_ids"].shape == (2, 16)
    eos = (wl.reader.tokens == ByteTokenizer.EOS).sum()
    assert int(eos) == 4  # documents packed, each closed by EOS


def test_parquet_text_column_and_npy_tokens(tmp_path, write_spec):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": ["alpha beta gamma delta"] * 3}), tmp_path / "t.parquet")
    assert load_workload(str(_lm_spec(write_spec, "t.parquet"))).make_batch(2)["input_ids"].shape == (2, 16)
    np.save(tmp_path / "tok.npy", np.arange(200, dtype=np.uint16) % 300)
    wl = load_workload(str(_lm_spec(write_spec, "tok.npy", name="n")))
    loss, _, _ = _train_step(wl, 2)
    assert np.isfinite(loss)


def test_csv_table_trains_tiny_mlp(tmp_path, write_spec):
    rows = ["a,b,c,label"] + [f"{i},{i * 0.5},{-i},{i % 3}" for i in range(30)]
    (tmp_path / "t.csv").write_text("\n".join(rows))
    wl = load_workload(str(write_spec(model="tiny-mlp", model_args={"in_features": 3, "out_features": 3},
                                      data="t.csv")))
    assert wl.kind == "tabular"
    loss, changed, batch = _train_step(wl, 8)
    assert np.isfinite(loss) and changed and batch["features"].shape == (8, 3)
    assert batch["targets"].dtype == torch.long


def test_safetensors_regression_sample(tmp_path, write_spec):
    from safetensors.numpy import save_file

    save_file({"x": np.random.rand(20, 5).astype(np.float32), "y": np.random.rand(20).astype(np.float32)},
              str(tmp_path / "s.safetensors"))
    spec = write_spec(model="tiny-mlp", model_args={"in_features": 5}, data={"path": "s.safetensors", "inputs": "x"})
    loss, _, batch = _train_step(load_workload(str(spec)), 4)
    assert np.isfinite(loss) and batch["targets"].dtype == torch.float32


FACTORY = '''
import torch
def make(width=8):
    return torch.nn.Sequential(torch.nn.Linear(4, width), torch.nn.ReLU(), torch.nn.Linear(width, 1))
def broken():
    raise ValueError("no GPU in this factory")
'''


def test_factory_model_with_trust_code(tmp_path, write_spec):
    (tmp_path / "mymodels.py").write_text(FACTORY)
    np.save(tmp_path / "x.npy", np.random.rand(10, 4).astype(np.float32))
    spec = write_spec(model="mymodels:make", model_args={"width": 16}, data="x.npy")
    with pytest.raises(RaxError, match="--trust-code"):
        load_workload(str(spec))
    wl = load_workload(str(spec), trust_code=True)
    assert wl.kind == "other" and wl.source.origin == "factory"
    loss, changed, _ = _train_step(wl, 4)  # no targets: mean(out^2) stand-in objective
    assert np.isfinite(loss) and changed
    assert load_workload(str(write_spec("s2.yaml", model="mymodels:make", data="x.npy", trust_code=True)))


def test_hf_config_folder_and_file(tmp_path, write_spec):
    cfg = {"model_type": "gpt2", "n_embd": 32, "n_layer": 2, "n_head": 2, "n_positions": 64, "vocab_size": 300}
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    (tmp_path / "c.json").write_text(json.dumps(cfg))
    for ref in ("m", "c.json"):
        wl = load_workload(str(write_spec(f"{ref}.yaml", model=ref, data="tiny-text", seq_len=32)))
        assert wl.kind == "lm" and wl.layer_shape["hidden"] == 32
        assert np.isfinite(_train_step(wl, 2)[0])


def test_preset_model_by_name(write_spec):
    wl = load_workload(str(write_spec(model="llama3-8b", data="tiny-text", seq_len=256, meta_only=True)))
    assert wl.layer_shape["hidden"] == 4096 and wl.layer_shape["seq"] == 256


def test_spec_object_round_trip(write_spec):
    spec = load_spec_file(write_spec(model="small-cnn", data="shapes", image_size=16))
    wl = Workload(spec)
    assert wl.make_batch(2)["pixel_values"].shape == (2, 3, 16, 16)
