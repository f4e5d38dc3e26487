"""Fuzzed catalogue override files (structured entries, YAML text, bytes, encodings, deep
nesting, aliases, huge and NaN numbers) through the strict loader, the merged catalogue and
`rax catalog validate FILE`: a RaxError of one line, or a catalogue; nothing else."""

from __future__ import annotations

import copy
import datetime as dt
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from raxlab.catalog import load_catalog
from raxlab.catalog import loader
from raxlab.catalog.parts import KINDS
from tests.reliability.conftest import assert_cli_error, cli
from tests.reliability.fuzzkit import COUNTS, ENCODINGS, YAML_JUNK, check, encode, fuzz, junk, mutated

QUOTE = {"accelerators": [{"name": "h100-sxm", "price_usd": {"value": 27500, "source": "Dell quote Q-1",
                                                             "as_of": dt.date(2026, 5, 1), "basis": "quote"}}],
         "servers": [{"name": "my-box", "title": "8x H100", "vendor": "Dell", "accelerators": ["h100-sxm"],
                      "accepts_form_factor": "sxm", "scaleup_topology": "nvswitch", "source": "quote Q-1",
                      "as_of": dt.date(2026, 5, 1), "gpus_per_node": 8, "pcie_gen": 5, "nic_slots": 8,
                      "nics_included": 8, "compute_nic": "connectx-7-400g", "cpu": "2x Xeon", "cpu_cores": 112,
                      "host_mem_gib": 2048, "power_w": 10200,
                      "price_no_gpu_usd": {"value": 80000, "basis": "quote"}}]}
ENTRY_FIELDS = ["name", "title", "vendor", "source", "estimate", "as_of", "price_usd", "gpus_per_node",
                "pcie_gen", "cpu_cores", "host_mem_gib", "power_w", "accelerators", "compute_nic",
                "accepts_form_factor", "scaleup_topology", "price_no_gpu_usd", "rack_units", "bf16_tflops"]
Q_FIELDS = ["value", "source", "estimate", "as_of", "basis", "low", "high", "note", "override"]
NUMBERS = st.sampled_from([-1, 0, 1e308, float("nan"), float("inf"), -0.0, 2**63, 10**400, 7.5, "989", True,
                           None, [], {}, dt.date(1, 1, 1), "2026-13-45"])
VALUES = junk() | NUMBERS | st.sampled_from(["h100-sxm", "H100 SXM", "my-box", "sxm", "pcie", "quote", "nope"])


@st.composite
def overrides(draw):
    doc = copy.deepcopy(QUOTE)
    for _ in range(draw(st.integers(1, 3))):
        lists = sorted(k for k, v in doc.items() if isinstance(v, list))
        section = draw(st.sampled_from(lists)) if lists else "accelerators"
        items = [e for e in doc.setdefault(section, []) if isinstance(e, dict)] if lists else []
        entry = draw(st.sampled_from(items)) if items else {}
        op = draw(st.sampled_from(["field", "q", "section", "dup", "entry"]))
        if op == "field":
            entry[draw(st.sampled_from(ENTRY_FIELDS) | st.text(max_size=10))] = draw(VALUES)
        elif op == "q":
            q = entry.setdefault(draw(st.sampled_from(["price_usd", "power_w", "cpu_cores"])), {"value": 1})
            if isinstance(q, dict):
                q[draw(st.sampled_from(Q_FIELDS))] = draw(VALUES)
        elif op == "section":
            doc[draw(st.sampled_from(["accelerators", "nics", "fabrics", "switches", "gpus"]) | st.text(max_size=6))] \
                = draw(VALUES)
        elif op == "dup" and items:
            doc[section].append(copy.deepcopy(entry))
        elif items:
            doc[section][0] = draw(VALUES)
    return doc


def _dump(doc) -> str:
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


@pytest.fixture(scope="module")
def folder():
    with tempfile.TemporaryDirectory(prefix="rax-fuzz-cat-") as d:
        yield Path(d)


def _write(folder: Path, data) -> Path:
    fd, name = tempfile.mkstemp(suffix=".yaml", dir=folder)
    with open(fd, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode("utf-8", errors="surrogatepass"))
    return Path(name)


def _document(path: Path) -> None:
    """The strict reader and each entry's normalise + validate (the cheap part of a load)."""
    doc = check("catalog.document", loader.read_document, path, path.name)
    if isinstance(doc, Exception):
        return
    for kind, items in doc.items():
        for i, raw in enumerate(items):
            loc = loader.where(path.name, kind, raw, i)
            norm = check("catalog.entry", loader.normalize, raw, kind, loc, override=True)
            if not isinstance(norm, Exception):
                check("catalog.entry", loader.validate, norm, kind, loc)


TEXTS = st.one_of(
    overrides().map(_dump),
    YAML_JUNK,
    st.just(_dump(QUOTE)).flatmap(mutated),
    junk(20).map(_dump),
)
DEEP = st.one_of(
    st.integers(100, 20000).map(lambda n: "accelerators: " + "[" * n + "]" * n),
    st.integers(2, 9).map(lambda n: "".join(f"x{i}: &x{i} [" + ",".join([f"*x{i - 1}" if i else "1"] * 10) + "]\n"
                                            for i in range(n))),
    st.integers(4000, 20000).map(lambda n: _dump(QUOTE).replace("27500", "9" * n)),
)


@fuzz()
@given(text=TEXTS | DEEP)
def test_documents_and_entries(text, folder):
    path = _write(folder, text)
    try:
        _document(path)
    finally:
        path.unlink()


@fuzz(0.5)
@given(data=st.binary(max_size=300) | ENCODINGS.map(lambda e: encode(_dump(QUOTE).replace("8x H100", "8× H100 ☃"), e)))
def test_bytes_and_encodings(data, folder):
    path = _write(folder, data)
    try:
        _document(path)
        if COUNTS[("catalog.document", "accepted")] % 5 == 0:  # a full load costs 0.15 s: sample it
            check("catalog.load", load_catalog, path)
    finally:
        path.unlink()


@fuzz(0.4)
@given(text=TEXTS | DEEP)
def test_merged_catalogue(text, folder):
    """The full load: built-in data + this override, references checked across kinds."""
    path = _write(folder, text)
    try:
        cat = check("catalog.load", load_catalog, path)
        if not isinstance(cat, Exception):  # what reports and `rax catalog show` read
            [entry.to_dict() for kind in KINDS for entry in cat.all(kind)]
    finally:
        path.unlink()


@fuzz(0.2)
@given(text=TEXTS | DEEP)
def test_cli_validate_one_line_exit_2(text, folder):
    path = _write(folder, text)
    try:
        code, _, err = cli("catalog", "validate", path, "--json")
    finally:
        path.unlink()
    if code not in (0, 1):  # 1: loaded, consistency issues found
        assert_cli_error(code, err)
    COUNTS[("cli.catalog.validate", "RaxError" if code == 2 else "accepted")] += 1
