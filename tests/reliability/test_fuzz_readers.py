"""Fuzzed data samples (text, JSONL, CSV, Parquet, .npy, .safetensors, image folders):
truncated, empty, wrong encodings, huge values, NaN, negative ids, wrong dtypes and shapes,
binary junk. Each goes through the real path the benchmarks take (Workload -> reader ->
make_batch -> the model's loss): it loads and trains, or fails with a one-line RaxError."""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from raxlab.workload.workload import Workload, load_workload
from tests.reliability.fuzzkit import ENCODINGS, check, encode, fuzz

TINY_LLAMA = {"model_type": "llama", "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
              "intermediate_size": 32, "vocab_size": 300, "max_position_embeddings": 64}
WORDS = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
CUTS = st.integers(0, 400)  # truncate the file to this many bytes (when shorter than it)


def _spec(model, data, **extra) -> dict:
    return {"name": "fuzz", "model": model, "data": data, "micro_batch": 2, **extra}


def _lm(data, seq_len) -> dict:
    return _spec(TINY_LLAMA, data, seq_len=seq_len)


# -- one strategy per format: (file name, bytes, spec) -------------------------------------

@st.composite
def texts(draw):
    raw = draw(st.one_of(WORDS.map(str.encode), st.binary(max_size=200),
                         st.tuples(WORDS, ENCODINGS).map(lambda t: encode(t[0] + " naïve ☃", t[1]))))
    return "t.txt", raw, _lm("t.txt", draw(st.sampled_from([1, 2, 16, 64, 65])))


JSON_LINES = st.one_of(
    WORDS.map(lambda w: json.dumps({"text": w})), st.just('{"text": 5}'), st.just("[1, 2]"), st.just('"s"'),
    st.just('{"text": "a"'), st.just('{"text": NaN}'), st.just('{"text": "a", "n": ' + "9" * 5000 + "}"),
    st.integers(100, 50000).map(lambda n: "[" * n + "]" * n), st.just(""), st.just("\ufeff{}"), WORDS,
)


@st.composite
def jsonls(draw):
    raw = "\n".join(draw(st.lists(JSON_LINES, max_size=6))).encode("utf-8", errors="replace")
    field = draw(st.sampled_from(["text", "body", ""]))
    return "d.jsonl", raw, _lm({"path": "d.jsonl", "text_field": field}, draw(st.sampled_from([1, 4, 16])))


CELLS = st.one_of(st.integers(-5, 5), st.floats(allow_nan=True, allow_infinity=True), st.just(""),
                  st.sampled_from(["x", "nan", "inf", "1e999", "-0", "true", '"', "9" * 40]))


@st.composite
def tables(draw):
    ncol, nrow = draw(st.integers(1, 4)), draw(st.integers(0, 6))
    names = draw(st.lists(st.sampled_from(["a", "b", "label", "target", "", "a", "é"]), min_size=ncol, max_size=ncol))
    rows = [",".join(names)] + [",".join(str(draw(CELLS)) for _ in range(ncol)) for _ in range(nrow)]
    csv = ("\n".join(rows) + "\n").encode()
    fmt = draw(st.sampled_from(["csv", "parquet"]))
    raw = csv if fmt == "csv" else _parquet(csv)
    data = {"path": f"t.{fmt}", "target": draw(st.sampled_from([None, "label", "b", "zz"]))}
    args = {"in_features": draw(st.integers(1, 4)), "out_features": draw(st.integers(1, 3))}
    return f"t.{fmt}", raw, {**_spec("tiny-mlp", data), "model_args": args, "kind": "tabular"}


def _parquet(csv: bytes) -> bytes:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    try:
        table = pacsv.read_csv(io.BytesIO(csv))
    except Exception:  # a CSV pyarrow cannot parse has no Parquet twin: junk bytes instead
        return b"PAR1" + csv + b"PAR1"
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16", "float32",
          "float64", "bool", "complex64", "<U3", "S3", "datetime64[s]", "O", "i4,f4"]
SHAPES = st.sampled_from([(), (0,), (1,), (5,), (4, 3), (4, 0), (3, 3, 16, 16), (2, 1, 16, 16), (6, 17), (3, 2, 2)])


def _array(draw) -> np.ndarray:
    dtype, shape = draw(st.sampled_from(DTYPES)), draw(SHAPES)
    fill = draw(st.sampled_from([0, 1, -1, 300, 2**31 - 1, float("nan"), float("inf"), 1e308]))
    with np.errstate(all="ignore"):
        try:
            return np.full(shape, fill).astype(dtype)
        except (ValueError, OverflowError, TypeError):
            return np.zeros(shape, dtype=dtype)


@st.composite
def arrays(draw):
    arr = _array(draw)
    fmt = draw(st.sampled_from(["npy", "safetensors"]))
    if fmt == "npy":
        buf = io.BytesIO()
        np.save(buf, arr, allow_pickle=True)  # object arrays become pickles: the reader must refuse them
        raw = buf.getvalue()
    else:
        raw = _safetensors({k: _array(draw) for k in draw(st.lists(
            st.sampled_from(["inputs", "labels", "x", "input_ids", "w"]), min_size=0, max_size=3, unique=True))})
    model, extra = draw(st.sampled_from([
        ("tiny-mlp", {"model_args": {"in_features": 3}, "kind": "tabular"}),
        (TINY_LLAMA, {"seq_len": 4}),
        ("small-cnn", {"model_args": {"width": 4}, "image_size": 16}),
    ]))
    data = {"path": f"a.{fmt}", "inputs": draw(st.sampled_from([None, "inputs", "w"])),
            "target": draw(st.sampled_from([None, "labels"]))}
    return f"a.{fmt}", raw, {**_spec(model, data), **extra}


def _safetensors(arrays: dict) -> bytes:
    from safetensors.numpy import save

    ok = {k: np.ascontiguousarray(v) for k, v in arrays.items() if v.dtype.kind in "biuf" and v.dtype.itemsize}
    try:
        return save(ok)
    except Exception:  # shapes safetensors will not store: a hand-made header instead
        header = json.dumps({"inputs": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 10 ** 12]}}).encode()
        return len(header).to_bytes(8, "little") + header


def _image_bytes(draw) -> bytes:
    from PIL import Image

    kind = draw(st.sampled_from(["png", "png", "jpeg", "gif", "tiff", "junk", "empty"]))
    if kind == "junk":
        return draw(st.binary(max_size=64))
    if kind == "empty":
        return b""
    mode = draw(st.sampled_from(["RGB", "L", "LA", "RGBA", "P", "1", "I;16", "I", "F", "CMYK"]))
    size = (draw(st.integers(1, 40)), draw(st.integers(1, 40)))
    buf = io.BytesIO()
    try:
        Image.new(mode, size).save(buf, format=kind)
    except (OSError, ValueError, KeyError):
        Image.new("RGB", size).save(buf, format="png")
    return buf.getvalue()


@st.composite
def image_folders(draw):
    files = {}
    for c in range(draw(st.integers(0, 3))):
        for i in range(draw(st.integers(0, 3))):
            ext = draw(st.sampled_from([".png", ".jpg", ".gif", ".tif", ".PNG"]))
            files[f"c{c}/{i}{ext}"] = _image_bytes(draw)
    if draw(st.booleans()):
        files["loose.png"] = _image_bytes(draw)
    args = {"width": 4, "num_classes": draw(st.integers(1, 4)), "in_channels": draw(st.sampled_from([1, 3, 4]))}
    return "imgs", files, {**_spec("small-cnn", "imgs"), "model_args": args, "image_size": draw(st.sampled_from([8, 16, 33]))}


# -- the path the benchmarks take --------------------------------------------------------

@pytest.fixture(scope="module")
def sample_dir():
    d = Path(tempfile.mkdtemp(prefix="rax-fuzz-data-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _write_sample(folder: Path, name: str, content, cut: int | None) -> None:
    if isinstance(content, dict):  # an image folder
        for rel, raw in content.items():
            (folder / name / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / name / rel).write_bytes(raw)
        (folder / name).mkdir(exist_ok=True)
        return
    (folder / name).write_bytes(content[:cut] if cut is not None and cut < len(content) else content)


def _train_step(wl: Workload) -> None:
    """Build, batch, loss and backward, as a compute point does."""
    model = wl.build_model()
    batch = wl.make_batch(2)
    wl.loss(model, batch).backward()
    wl.dataset()[0]
    assert wl.sample_bytes_per_sample >= 0 and wl.decode_s_per_sample >= 0


def _run(target: str, folder: Path, sample, cut: int | None) -> None:
    name, content, spec = sample
    fd = tempfile.mkdtemp(dir=folder)
    _write_sample(Path(fd), name, content, cut)
    spec_path = Path(fd, "spec.yaml")
    spec_path.write_text(yaml.safe_dump(spec))
    wl = check(target, load_workload, str(spec_path))
    if isinstance(wl, Workload):
        check(target, _train_step, wl)


@fuzz(0.6)
@given(sample=texts() | jsonls(), cut=st.none() | CUTS)
def test_text_and_jsonl(sample, cut, sample_dir):
    _run("data.text", sample_dir, sample, cut)


@fuzz(0.6)
@given(sample=tables(), cut=st.none() | CUTS)
def test_csv_and_parquet(sample, cut, sample_dir):
    _run("data.table", sample_dir, sample, cut)


@fuzz(0.6)
@given(sample=arrays(), cut=st.none() | CUTS)
def test_npy_and_safetensors(sample, cut, sample_dir):
    _run("data.tensors", sample_dir, sample, cut)


@fuzz(0.4)
@given(sample=image_folders())
def test_image_folders(sample, sample_dir):
    _run("data.images", sample_dir, sample, None)
