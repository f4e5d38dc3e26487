"""Bytes per token for storage sizing: a BPE (`tokenizers`) trained on 80 % of the text sample and
measured on the rest, instead of byte tokens that under-count a sample's bytes on disk."""

from pathlib import Path

import pytest

from raxlab.workload import load_workload
from raxlab.workload.tokenizer import BPE_MIN_BYTES, bpe_bytes_per_token

ROOT = Path(__file__).resolve().parents[2]


def _text() -> bytes:
    """English prose and code from this repository: ~1 MB, no download."""
    parts = [p.read_bytes() for p in sorted((ROOT / "src" / "raxlab").rglob("*.py"))]
    return b"\n".join([(ROOT / "README.md").read_bytes(), (ROOT / "docs" / "DEVELOPING.md").read_bytes(), *parts])


def test_a_small_sample_says_its_tokens_are_bytes():
    b, note = bpe_bytes_per_token([b"a short sample. " * 100])
    assert b is None and "too small to train a BPE" in note and f"{BPE_MIN_BYTES // 1024} KiB" in note


def test_bpe_packs_several_bytes_per_token():
    b, note = bpe_bytes_per_token([_text()])
    assert 2.0 < b < 8.0 and "trained on 80 % of the sample" in note  # byte tokens would be 1.0


def test_storage_per_sample_counts_bpe_tokens(tmp_path):
    (tmp_path / "s.txt").write_bytes(_text()[:300_000])
    (tmp_path / "w.yaml").write_text("name: w\nmodel: tiny-lm\ndata: ./s.txt\nseq_len: 64\nmicro_batch: 2\n")
    wl = load_workload(str(tmp_path / "w.yaml"))
    r = wl.reader
    byte_level = r.bytes_on_disk * r.seq_len / r.tokens.numel()
    assert wl.sample_bytes_per_sample == pytest.approx(byte_level * r.bytes_per_token, rel=0.01)
    assert wl.tokenizer_note.startswith("bytes per token")
