"""The card cache: keyed by content, read without torch, rebuilt when anything it is made of changes."""

import json
import os
import subprocess
import sys

import pytest

from raxlab.workload import cardcache
from raxlab.workload.presets import resolve_spec


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RAX_CACHE", str(tmp_path / "cache"))


def _spec_file(folder, text="the quick brown fox jumps over the lazy dog\n" * 200, seq_len=32):
    (folder / "sample.txt").write_text(text)
    (folder / "w.yaml").write_text(f"name: w\nmodel: tiny-lm\ndata: ./sample.txt\ntask: train\nseq_len: {seq_len}\n"
                                   "micro_batch: 2\n")
    return str(folder / "w.yaml")


def test_second_call_reads_the_cached_card(tmp_path):
    ref = _spec_file(tmp_path)
    cold, spec = cardcache.card_for(ref)
    assert spec.name == "w" and cold.params > 0
    warm, _ = cardcache.card_for(ref, build=lambda: pytest.fail("a warm call must not trace"))
    assert warm.to_dict() == cold.to_dict()


def test_key_follows_the_content(tmp_path):
    ref = _spec_file(tmp_path)
    key = cardcache.card_key(resolve_spec(ref)[0])
    assert key == cardcache.card_key(resolve_spec(ref)[0])  # deterministic
    (tmp_path / "sample.txt").write_text("another sample entirely, " * 300)
    assert cardcache.card_key(resolve_spec(ref)[0]) != key  # the data sample
    _spec_file(tmp_path, seq_len=16)
    changed = resolve_spec(ref)[0]
    assert cardcache.card_key(changed) != key  # the spec
    assert cardcache.card_key(changed, dtype="bfloat16") != cardcache.card_key(changed)  # the build options


def test_package_versions_are_part_of_the_key(tmp_path):
    parts = cardcache.key_parts(resolve_spec(_spec_file(tmp_path))[0], dtype="float32", extrapolate=True, proxy=False)
    assert {"raxlab", "torch", "transformers"} <= set(parts["versions"]) and parts["versions"]["torch"]
    assert parts["code"] and parts["data"] != "missing"


def test_user_code_is_never_cached(tmp_path):
    (tmp_path / "d.txt").write_text("x " * 500)
    (tmp_path / "f.yaml").write_text("name: f\nmodel: mymod:make\ndata: ./d.txt\nkind: tabular\n")
    assert cardcache.card_key(resolve_spec(str(tmp_path / "f.yaml"), trust_flag=True)[0]) is None


def test_a_damaged_entry_is_traced_again(tmp_path):
    ref = _spec_file(tmp_path)
    card, spec = cardcache.card_for(ref)
    path = cardcache.cache_dir() / f"{cardcache.card_key(spec)}.json"
    path.write_text("{not json")
    again, _ = cardcache.card_for(ref, build=lambda: card)
    assert again is card and json.loads(path.read_text())["params"] == card.params


def test_warm_predict_imports_no_torch(tmp_path):
    env = {**os.environ, "RAX_CACHE": str(tmp_path / "cache"), "RAX_STORE": str(tmp_path / "s.db")}
    argv = ["predict", "tiny-lm", "--gpu", "h100-sxm", "--json"]
    cardcache.card_for("tiny-lm")  # warm the cache here (this process has torch already)
    probe = ("import sys, io, contextlib; from raxlab.cli.main import main\n"
             f"with contextlib.redirect_stdout(io.StringIO()): rc = main({argv!r})\n"
             "print(rc, 'torch' in sys.modules, 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], env=env, check=True, capture_output=True, text=True).stdout
    assert out.split() == ["0", "False", "False"]
