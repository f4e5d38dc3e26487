"""Every bad input: one `rax: error:` line naming the field, exit code 2, no traceback."""

import json

import numpy as np
import pytest

from raxlab.errors import RaxError
from tests.workload.conftest import one_line_error

FACTORY = '''
def broken():
    raise ValueError("no GPU in this factory")
'''


def _check(rax, argv, *expected):
    code, out, err = rax(*argv)
    line = one_line_error(err)
    assert code == 2 and out == ""
    for text in expected:
        assert text in line, line
    return line


def test_malformed_yaml(rax, tmp_path):
    p = tmp_path / "w.yaml"
    p.write_text("name: t\nmodel: {model_type: llama\n")
    _check(rax, ["card", p], "workload: malformed YAML", "line")


def test_unknown_preset_lists_known(rax):
    line = _check(rax, ["card", "tiny-llm"], "workload: unknown preset 'tiny-llm'", "did you mean tiny-lm")
    assert "gpt3-175b" in line and "small-cnn" in line


def test_missing_spec_file(rax, tmp_path):
    _check(rax, ["card", tmp_path / "nope.yaml"], "workload: no such spec file")


def test_missing_data_file(rax, write_spec):
    _check(rax, ["card", write_spec(model="small-cnn", data="photos/")], "data: no such file or folder")


def test_unknown_key(rax, write_spec):
    _check(rax, ["card", write_spec(model="small-cnn", data="shapes", batch=3)], "batch: unknown key; allowed:")


def test_factory_needs_trust(rax, tmp_path, write_spec):
    (tmp_path / "facts.py").write_text(FACTORY)
    _check(rax, ["card", write_spec(model="facts:broken", data="shapes")], "model:", "--trust-code")


def test_factory_that_raises(rax, tmp_path, write_spec):
    (tmp_path / "facts2.py").write_text(FACTORY)
    spec = write_spec(model="facts2:broken", data="shapes")
    _check(rax, ["card", spec, "--trust-code"], "model: factory facts2:broken raised ValueError: no GPU in this factory")


def test_factory_that_cannot_import(rax, write_spec):
    spec = write_spec(model="no_such_pkg.models:make", data="shapes", trust_code=True)
    _check(rax, ["card", spec], "model: cannot import 'no_such_pkg.models'")


def _csv(tmp_path, cols):
    rows = [",".join(cols)] + [",".join(str(i + j) for j in range(len(cols) - 1)) + f",{i % 2}" for i in range(10)]
    (tmp_path / "t.csv").write_text("\n".join(rows))


def test_wrong_columns(rax, tmp_path, write_spec):
    _csv(tmp_path, ["a", "b", "c", "d", "label"])
    spec = write_spec(model="tiny-mlp", model_args={"in_features": 3, "out_features": 2}, data="t.csv")
    _check(rax, ["card", spec], "data.features:", "4 feature columns (a, b, c, d)", "expects 3")


def test_missing_named_column(rax, tmp_path, write_spec):
    _csv(tmp_path, ["a", "b", "label"])
    spec = write_spec(model="tiny-mlp", model_args={"in_features": 2}, data={"path": "t.csv", "target": "price"})
    _check(rax, ["card", spec], "data.target:", "columns: a, b, label")


def _gray_images(root):
    from PIL import Image

    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
        for i in range(3):
            Image.new("L", (8, 8), 40 * i).save(root / cls / f"{i}.png")


def test_wrong_image_channels(rax, tmp_path, write_spec):
    _gray_images(tmp_path / "gray")
    spec = write_spec(model="small-cnn", model_args={"num_classes": 2}, data="gray", image_size=16)
    _check(rax, ["card", spec], "data:", "1 channel(s) (mode L)", "expects 3")


def test_too_many_classes_for_model(rax, tmp_path, write_spec):
    _gray_images(tmp_path / "gray")
    spec = write_spec(model="small-cnn", model_args={"num_classes": 1, "in_channels": 1}, data="gray")
    _check(rax, ["card", spec], "data:", "2 classes", "1 outputs")


@pytest.mark.parametrize("keep", [30, 0.6])  # header cut short; pixel data cut short
def test_truncated_png(rax, tmp_path, write_spec, keep):
    from PIL import Image

    _gray_images(tmp_path / "imgs")
    png = tmp_path / "imgs" / "a" / "0.png"
    Image.effect_noise((64, 64), 60).save(png)  # noise: the pixel data does not compress away
    raw = png.read_bytes()
    png.write_bytes(raw[:keep if isinstance(keep, int) else int(len(raw) * keep)])
    spec = write_spec(model="small-cnn", model_args={"num_classes": 2, "in_channels": 1}, data="imgs")
    _check(rax, ["card", spec], "data: cannot decode image 0.png")


def test_vision_name_without_extra(rax, write_spec):
    try:
        import torchvision  # noqa: F401
        pytest.skip("torchvision is installed; the missing-extra message cannot show")
    except ImportError:
        pass
    _check(rax, ["card", write_spec(model="resnet50", data="shapes")], "model:", "raxlab[vision]")


@pytest.mark.parametrize("content,expected", [
    (b"", "is empty"),
    (b"caf\xe9 au lait " * 10, "not valid UTF-8 (byte 0xe9 at offset 3)"),
    (b"short", "has 6 tokens; seq_len 16 needs at least 16"),
])
def test_bad_text_samples(rax, tmp_path, write_spec, content, expected):
    (tmp_path / "s.txt").write_bytes(content)
    _check(rax, ["card", write_spec(model="tiny-lm", data="s.txt", seq_len=16)], "data:", expected)


def test_bad_jsonl_line(rax, tmp_path, write_spec):
    (tmp_path / "s.jsonl").write_text(json.dumps({"text": "ok " * 20}) + "\n{not json\n")
    _check(rax, ["card", write_spec(model="tiny-lm", data="s.jsonl", seq_len=16)], "data: s.jsonl line 2 is not JSON")


def test_pickled_npy_is_refused(rax, tmp_path, write_spec):
    np.save(tmp_path / "p.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    _check(rax, ["card", write_spec(model="tiny-lm", data="p.npy", seq_len=16)], "data:", "pickle")


def test_truncated_npy(rax, tmp_path, write_spec):
    np.save(tmp_path / "t.npy", np.arange(1000, dtype=np.int64))
    raw = (tmp_path / "t.npy").read_bytes()
    (tmp_path / "t.npy").write_bytes(raw[:200])
    _check(rax, ["card", write_spec(model="tiny-lm", data="t.npy", seq_len=16)], "data: cannot read t.npy as .npy")


def test_seq_len_beyond_model(rax, write_spec):
    _check(rax, ["card", write_spec(model="tiny-lm", data="tiny-text", seq_len=4096)],
           "seq_len: 4096 exceeds the model's max_position_embeddings 256")


def test_lm_needs_seq_len(rax, write_spec):
    _check(rax, ["card", write_spec(model="tiny-lm", data="tiny-text")], "seq_len: required")


def test_unknown_hf_model_type(rax, write_spec):
    spec = write_spec(model={"model_type": "lamma", "hidden_size": 8}, data="tiny-text", seq_len=8)
    _check(rax, ["card", spec], "model.model_type: unknown Hugging Face model_type 'lamma'", "llama")


def test_debug_shows_the_exception(tmp_path):
    from raxlab.cli.main import main

    with pytest.raises(RaxError, match="no such spec file"):
        main(["card", str(tmp_path / "nope.yaml"), "--debug"])
