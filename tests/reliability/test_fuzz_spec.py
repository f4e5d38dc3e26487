"""Fuzzed WorkloadSpecs (parsed dicts, YAML text, raw bytes, deep nesting, aliases, huge
numbers) through the loader, the Workload built from an accepted spec, and the CLI:
every failure is a one-line RaxError, nothing else escapes."""

from __future__ import annotations

import copy
import re
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import assume, given
from hypothesis import strategies as st

from raxlab.workload.models import FACTORY_RE
from raxlab.workload.spec import parse_spec
from raxlab.workload.workload import Workload, load_workload
from tests.reliability.conftest import assert_cli_error, cli
from tests.reliability.fuzzkit import (COUNTS, ENCODINGS, SCALARS, YAML_JUNK, check, encode, fuzz, junk, mutated,
                                       nested)

TINY_LLAMA = {"model_type": "llama", "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
              "intermediate_size": 32, "vocab_size": 300, "max_position_embeddings": 64}
BASES = [
    {"name": "vision", "model": "small-cnn", "model_args": {"num_classes": 4, "width": 4}, "data": "shapes",
     "image_size": 16, "micro_batch": 2, "targets": {"samples": 1000, "deadline_hours": 1}},
    {"name": "lm", "model": TINY_LLAMA, "data": "tiny-text", "seq_len": 16, "micro_batch": 2,
     "precisions": ["fp32", "bf16"], "targets": {"tokens": 1e6}},
    {"name": "table", "model": "tiny-mlp", "model_args": {"in_features": 3, "out_features": 2},
     "data": {"path": "t.csv", "target": "label"}, "kind": "tabular"},
]
FIELDS = ["name", "description", "model", "model_args", "data", "kind", "task", "seq_len", "image_size",
          "micro_batch", "global_batch", "precisions", "targets", "meta_only", "proxy", "trust_code", "source"]
SUBFIELDS = ["data.path", "data.text_field", "data.target", "data.features", "targets.tokens",
             "targets.deadline_days", "targets.latency_p99_ms", "targets.pue", "model.vocab_size",
             "model.hidden_size", "model.num_attention_heads", "model.model_type", "model_args.width",
             "model_args.in_features", "proxy.model_overrides", "proxy.seq_len"]
NASTY = junk() | st.sampled_from([0, -1, -(10**9), 10**12, 2**63, float("nan"), float("inf"), -0.5, "1", "",
                                   True, [], {}, "llama", "small-cnn", "tiny-text", "shapes", "t.csv", "x:y"])
# Near-valid values reach past the schema into the Workload (model build, reader, batch).
PLAUSIBLE = st.integers(-2, 300) | st.sampled_from(
    ["lm", "vision", "tabular", "other", "train", "infer", "fp32", ["bf16"], "label", "a", ["a", "b"], 1e6,
     "tiny-text", "shapes", "t.csv", {"path": "t.csv", "target": "c"}, "tiny-mlp", "small-cnn", True, False])
VALUES = st.one_of(NASTY, PLAUSIBLE)
HUGE_IMAGE = 2048  # decoding the sample at a larger size allocates gigabytes: not a fuzz target


@pytest.fixture(scope="module")
def base_dir():
    with tempfile.TemporaryDirectory(prefix="rax-fuzz-spec-") as d:
        rows = ["a,b,c,label"] + [f"{i},{i * 2},{i % 3},{i % 2}" for i in range(8)]
        Path(d, "t.csv").write_text("\n".join(rows) + "\n")
        yield Path(d)


def _set(spec: dict, path: str, value) -> None:
    *parents, leaf = path.split(".")
    node = spec
    for p in parents:
        if not isinstance(node.get(p), dict):
            node[p] = {"path": node[p]} if p == "data" and isinstance(node.get(p), str) else {}
        node = node[p]
    node[leaf] = value


@st.composite
def spec_dicts(draw):
    spec = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["set", "set", "del", "extra"]))
        if op == "set":
            _set(spec, draw(st.sampled_from(FIELDS + SUBFIELDS)), draw(VALUES))
        elif op == "del" and spec:
            spec.pop(draw(st.sampled_from(sorted(spec, key=repr))), None)
        else:
            spec[draw(st.text(max_size=8) | st.integers())] = draw(VALUES)
    return spec


def _exercise(spec) -> None:
    """What the measurement layer does with an accepted spec: build, read, batch."""
    if isinstance(spec.model, str) and FACTORY_RE.match(spec.model):
        return  # user code is covered by the trust tests, never imported from fuzz input
    wl = check("spec.workload", Workload, spec)
    if isinstance(wl, Workload) and (wl.image_size or 0) <= HUGE_IMAGE:
        check("spec.workload", lambda: wl.make_batch(2))


@fuzz()
@given(spec=spec_dicts())
def test_parsed_dicts(spec, base_dir):
    assume(not (spec.get("trust_code") is True and isinstance(spec.get("model"), str)
                and FACTORY_RE.match(spec["model"])))
    parsed = check("spec.dict", parse_spec, spec, base_dir=base_dir)
    if not isinstance(parsed, Exception):
        _exercise(parsed)


@fuzz()
@given(spec=junk(20) | st.dictionaries(st.sampled_from(FIELDS), NASTY, max_size=6))
def test_arbitrary_values(spec, base_dir):
    parsed = check("spec.dict", parse_spec, spec, base_dir=base_dir)
    if not isinstance(parsed, Exception):
        _exercise(parsed)


def _valid_texts() -> list[str]:
    return [yaml.safe_dump(b, sort_keys=False) for b in BASES]


YAML_TEXTS = st.one_of(
    YAML_JUNK,
    st.sampled_from(_valid_texts()).flatmap(mutated),
    junk(20).map(lambda v: yaml.safe_dump(v, allow_unicode=True)),
    spec_dicts().map(lambda v: yaml.safe_dump(v, allow_unicode=True)),
)


def _write(base_dir: Path, data: bytes | str) -> Path:
    fd, name = tempfile.mkstemp(suffix=".yaml", dir=base_dir)
    with open(fd, "wb") as f:
        f.write(data.encode("utf-8", errors="surrogatepass") if isinstance(data, str) else data)
    return Path(name)


def _load_file(path: Path) -> None:
    try:
        wl = check("spec.file", load_workload, str(path))
        if isinstance(wl, Workload) and (wl.image_size or 0) <= HUGE_IMAGE:
            check("spec.workload", lambda: wl.make_batch(2))
    finally:
        path.unlink()


@fuzz()
@given(text=YAML_TEXTS)
def test_yaml_text(text, base_dir):
    assume("\ud800" > text or not re.search("[\ud800-\udfff]", text))
    _load_file(_write(base_dir, text))


@fuzz(0.5)
@given(data=st.binary(max_size=300) | st.sampled_from(_valid_texts()).flatmap(
    lambda t: ENCODINGS.map(lambda e: encode(t.replace("vision", "visión ☃"), e))))
def test_bytes_and_encodings(data, base_dir):
    _load_file(_write(base_dir, data))


DEEP = st.one_of(
    st.integers(50, 20000).map(lambda n: "name: t\nmodel: small-cnn\ndata: shapes\nmodel_args: " + "[" * n + "]" * n),
    st.integers(50, 5000).map(lambda n: "name: t\nmodel: small-cnn\ndata: shapes\nmodel_args: {x: "
                              + "{a: " * n + "1" + "}" * n + "}"),
    st.integers(2, 9).map(lambda n: "".join(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}" if i else "x"] * 10) + "]\n"
                                            for i in range(n))),
    st.integers(4000, 20000).map(lambda n: f"name: t\nmodel: small-cnn\ndata: shapes\nmicro_batch: {'9' * n}\n"),
    st.integers(1, 10**6).map(lambda n: f"name: t\nmodel: small-cnn\ndata: shapes\nimage_size: {n}e{n}\n"),
)


@fuzz(0.25)
@given(text=DEEP)
def test_deep_nesting_aliases_and_huge_numbers(text, base_dir):
    _load_file(_write(base_dir, text))


@fuzz(0.25)
@given(depth=st.integers(100, 5000), mapping=st.booleans(), where=st.sampled_from(["model_args", "model", "targets"]))
def test_deep_parsed_dicts(depth, mapping, where, base_dir):
    spec = copy.deepcopy(BASES[0])
    spec[where] = nested(depth, 1, mapping) if where != "model" else {"model_type": "llama", "x": nested(depth)}
    parsed = check("spec.dict", parse_spec, spec, base_dir=base_dir)
    if not isinstance(parsed, Exception):
        check("spec.dict", lambda: parsed.model_dump(mode="json"))


@fuzz(0.3)
@given(text=YAML_TEXTS | DEEP)
def test_cli_one_line_exit_2(text, base_dir):
    path = _write(base_dir, text)
    try:
        code, _, err = cli("card", path, "--json")
    finally:
        path.unlink()
    if code != 0:
        assert_cli_error(code, err)
    COUNTS[("cli.card", "accepted" if code == 0 else "RaxError")] += 1


@pytest.mark.parametrize("ref", ["x" * 300, "x" * 300 + "@proxy", "a/" * 3000 + "s.yaml", "~" + "y" * 300,
                                 "~no-such-user-rax/spec.yaml@proxy"])
def test_references_the_os_cannot_look_up(ref):
    """A workload reference longer than NAME_MAX/PATH_MAX is a one-line RaxError, not an OSError."""
    check("spec.file", load_workload, ref)


def test_store_under_an_unknown_users_home_is_a_one_line_error():
    code, _, err = cli("runs", "list", "--store", "~no-such-user-rax/rax.db")
    assert "--store: cannot expand '~no-such-user-rax'" in assert_cli_error(code, err)
