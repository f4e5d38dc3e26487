"""Files that are not what their name says, as data samples, specs and model configs (issue 20:
a FIFO as the sample hung `rax card` for good; a character device named `.txt` and a 2 GB sparse
text file were read whole until MemoryError; a symlink loop gave RuntimeError from Path.resolve).

Rule: only regular files (and folders of images) are read, a sample only up to its cap, and
everything else is a one-line RaxError, quickly: each case runs under a SIGALRM deadline, so a
blocking open fails the test instead of hanging the suite."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import stat
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from raxlab.errors import RaxError
from raxlab.workload.workload import Workload, load_workload
from tests.conftest import is_root
from tests.reliability.conftest import assert_cli_error, cli
from tests.reliability.fuzzkit import check, fuzz

DEADLINE_S = 20
TINY_LLAMA = {"model_type": "llama", "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
              "intermediate_size": 32, "vocab_size": 300, "max_position_embeddings": 64}


class Hung(Exception):
    pass


@contextlib.contextmanager
def deadline(seconds: float = DEADLINE_S):
    """Raise Hung in this thread if the block runs longer than `seconds` (a blocked open() too)."""
    def fire(signum, frame):
        raise Hung(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, fire)
    before, t0 = signal.getitimer(signal.ITIMER_REAL)[0], time.monotonic()  # pytest-timeout's, if any
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        if before > 0:  # give the outer timer back what is left of it
            signal.setitimer(signal.ITIMER_REAL, max(before - (time.monotonic() - t0), 1e-3))


# -- special files ---------------------------------------------------------------------------

def _fifo(p: Path):
    os.mkfifo(p)


def _socket(p: Path):
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(p))
    s.close()


def _zero_link(p: Path):
    p.symlink_to("/dev/zero")


def _zero_node(p: Path):  # /dev/zero (1, 5) under an ordinary name: not a symlink
    os.mknod(p, stat.S_IFCHR | 0o644, os.makedev(1, 5))


def _loop(p: Path):
    p.symlink_to(p.name)


def _loop2(p: Path):
    (p.parent / "other").symlink_to(p.name)
    p.symlink_to("other")


def _dangling(p: Path):
    p.symlink_to("nowhere")


def _folder(p: Path):
    p.mkdir()


def _sparse(p: Path):  # 2 GiB of holes: instant to make, costs no disk
    with open(p, "wb") as f:
        f.truncate(2 * 2**30)


MAKERS = {"fifo": _fifo, "socket": _socket, "link to /dev/zero": _zero_link, "loop": _loop, "loop2": _loop2,
          "dangling": _dangling, "folder": _folder, "sparse 2 GiB": _sparse}
if is_root():
    MAKERS["char device node"] = _zero_node
REFUSED = {k for k in MAKERS if k not in ("sparse 2 GiB",)}
EXTS = (".txt", ".jsonl", ".csv", ".parquet", ".npy", ".safetensors")


def _spec(folder: Path, data: str, ext: str) -> Path:
    model = {".csv": ("tiny-mlp", {"kind": "tabular"}), ".parquet": ("tiny-mlp", {"kind": "tabular"}),
             ".npy": ("tiny-mlp", {"kind": "tabular"}), ".safetensors": ("tiny-mlp", {"kind": "tabular"})}
    m, extra = model.get(ext, (TINY_LLAMA, {"seq_len": 8}))
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump({"name": "hostile", "model": m, "data": data, **extra}))
    return path


def _load(spec: Path):
    wl = load_workload(str(spec))
    return wl.reader if isinstance(wl, Workload) else wl


@pytest.mark.parametrize("what", sorted(MAKERS))
@pytest.mark.parametrize("ext", EXTS)
def test_special_files_as_the_sample_are_refused_or_capped(tmp_path, what, ext):
    sample = tmp_path / f"x{ext}"
    MAKERS[what](sample)
    spec = _spec(tmp_path, sample.name, ext)
    with deadline():
        got = check(f"hostile{ext}", _load, spec)
    if what in REFUSED:
        assert isinstance(got, RaxError), f"{what} as {ext} was read"
    else:  # 2 GiB of NUL bytes: read up to the cap, or refused as not text/JSON/table/array
        assert isinstance(got, RaxError) or getattr(got, "truncated", None), got


def test_a_fifo_or_device_as_the_sample_fails_rax_card_in_one_line(tmp_path):
    for what in ("fifo", "link to /dev/zero", "loop", *(["char device node"] if is_root() else [])):
        d = tmp_path / what.replace(" ", "_").replace("/", "_")
        d.mkdir()
        MAKERS[what](d / "x.txt")
        with deadline():
            code, _, err = cli("card", _spec(d, "x.txt", ".txt"))
        assert_cli_error(code, err)


def test_a_huge_sparse_text_sample_is_read_up_to_the_cap_and_the_card_says_so(tmp_path):
    _sparse(tmp_path / "x.txt")
    with deadline(60):
        code, out, err = cli("card", _spec(tmp_path, "x.txt", ".txt"), "--json")
    assert code == 0, err
    assert any("truncated" in n and "x.txt" in n for n in __import__("json").loads(out)["notes"])


@pytest.mark.parametrize("what", ["fifo", "link to /dev/zero", "loop", "folder"])
def test_special_spec_and_config_files_are_one_line(tmp_path, what):
    MAKERS[what](tmp_path / "w.yaml")
    with deadline():
        assert_cli_error(*cli("card", tmp_path / "w.yaml")[::2])
    MAKERS[what](tmp_path / "config.json")
    (tmp_path / "s.yaml").write_text("name: s\nmodel: ./config.json\ndata: tiny-text\nseq_len: 8\n")
    with deadline():
        assert_cli_error(*cli("card", tmp_path / "s.yaml")[::2])


def test_a_long_name_is_one_line(tmp_path):
    spec = _spec(tmp_path, "n" * 300 + ".txt", ".txt")
    with deadline():
        assert isinstance(check("hostile.name", _load, spec), RaxError)


@pytest.mark.skipif(is_root(), reason="root reads files without permission")
def test_an_unreadable_sample_is_one_line(tmp_path):
    (tmp_path / "x.txt").write_text("hello world " * 10)
    os.chmod(tmp_path / "x.txt", 0)
    assert "permission" in str(check("hostile.perm", _load, _spec(tmp_path, "x.txt", ".txt")))


def test_an_image_folder_skips_fifos_named_like_images(tmp_path):
    from PIL import Image

    (tmp_path / "imgs" / "a").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(tmp_path / "imgs" / "a" / "ok.png")
    os.mkfifo(tmp_path / "imgs" / "a" / "blocks.png")
    (tmp_path / "imgs" / "a" / "loop.png").symlink_to("loop.png")
    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump({"name": "i", "model": "small-cnn", "data": "imgs", "image_size": 8,
                                    "model_args": {"width": 4, "num_classes": 2}}))
    with deadline():
        r = load_workload(str(spec)).reader
    assert r.n == 1


def test_huge_arrays_are_read_in_bounded_rows(tmp_path):
    """A .npy header promising 1e9 rows over a sparse file: only the capped rows are read."""
    from raxlab.workload.arrays import SAMPLE_ROWS, load_npy

    path = tmp_path / "big.npy"
    hdr = io.BytesIO()
    np.lib.format.write_array_header_1_0(hdr, {"descr": "<f4", "fortran_order": False, "shape": (10**9, 3)})
    with open(path, "wb") as f:
        f.write(hdr.getvalue())
        f.truncate(len(hdr.getvalue()) + 12 * 10**9)
    with deadline():
        arr, note = load_npy(path)
    assert arr.shape == (SAMPLE_ROWS, 3) and "first" in note


def test_the_byte_tokenizer_builds_no_python_int_per_byte():
    from raxlab.workload.tokenizer import ByteTokenizer

    raw = ("naïve ☃ text\n" * 80_000).encode()  # ~1.3 MB
    tracemalloc.start()
    try:
        toks = ByteTokenizer().stream([raw, raw], where="t")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert toks.dtype.is_floating_point is False and toks.numel() == 2 * len(raw) + 2
    assert bytes(toks[: len(raw)].to(dtype=__import__("torch").uint8).numpy()) == raw
    assert peak < 1.5 * 8 * toks.numel(), f"peak {peak} B for {toks.numel()} tokens: a list per byte?"


# -- fuzz: any of the special files, any reader, a random name -------------------------------

@fuzz(0.3)
@given(what=st.sampled_from(sorted(MAKERS)), ext=st.sampled_from(EXTS),
       name=st.text(st.characters(codec="utf-8", exclude_characters="/\0"), min_size=1, max_size=20))
def test_fuzz_special_files_under_any_name(what, ext, name, tmp_path_factory):
    d = tmp_path_factory.mktemp("h")
    sample = d / (name.strip(".") or "x")[:50]
    sample = sample.with_name(sample.name + ext)
    try:
        MAKERS[what](sample)
    except OSError:  # a name this file system refuses
        return
    spec = _spec(d, "./" + sample.name, ext)
    with deadline():
        got = check(f"hostile{ext}", _load, spec)
    assert not (what in REFUSED and not isinstance(got, RaxError)), f"{what} named {sample.name!r} was read"
