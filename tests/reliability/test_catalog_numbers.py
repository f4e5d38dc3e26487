"""Catalogue numbers inside physical ranges, and nothing downstream divides by zero (issue 20:
`bf16_tflops: 0` / `mem_bw_tbyte_s: 0` passed the schema, then `catalog validate` raised
ZeroDivisionError, `rax predict` a TypeError in its table and null step time in its JSON)."""

from __future__ import annotations

import datetime as dt
import json
import math
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from raxlab.catalog import consistency_issues, load_catalog
from raxlab.catalog.parts import SECTIONS
from raxlab.catalog.units import value_range
from raxlab.errors import RaxError
from raxlab.predict.adapter import hardware_from_catalog
from raxlab.predict.api import predict_training
from raxlab.predict.layout import Layout
from raxlab.predict.shape import TransformerShape
from tests.reliability.conftest import assert_cli_error, cli
from tests.reliability.fuzzkit import check, fuzz

SECTION = {kind: sec for sec, kind in SECTIONS.items()}
BUILTIN = None  # the built-in catalogue, loaded on first use (see _builtin)
SHAPE = TransformerShape(hidden=1024, layers=8, heads=16, ffn=4096, vocab=32000, seq=1024)


def _builtin():
    global BUILTIN
    if BUILTIN is None:
        BUILTIN = load_catalog(None)
    return BUILTIN


def _override(tmp: Path, kind: str, name: str, field: str, value) -> Path:
    path = tmp / "override.yaml"
    q = {"value": value, "estimate": "test", "as_of": dt.date(2026, 1, 1)}
    path.write_text(yaml.safe_dump({SECTION[kind]: [{"name": name, field: q}]}))
    return path


ZEROS = [("accelerator", "h100-sxm", "bf16_tflops"), ("accelerator", "h100-sxm", "mem_bw_tbyte_s"),
         ("accelerator", "h100-sxm", "mem_gib"), ("accelerator", "h100-sxm", "scaleup_bw_gbyte_s"),
         ("server", "hgx-h100-8gpu", "gpus_per_node"), ("server", "hgx-h100-8gpu", "nic_slots"),
         ("fabric", "ib-ndr", "line_rate_gbit_s"), ("fabric", "ib-ndr", "effective_fraction"),
         ("fabric", "ib-ndr", "latency_us"), ("switch", "qm9700", "ports"), ("nic", "connectx-7-400g", "port_rate_gbit_s")]


@pytest.mark.parametrize("kind,name,field", ZEROS)
def test_a_zero_where_the_code_divides_is_a_one_line_error_everywhere(tmp_path, kind, name, field):
    path = _override(tmp_path, kind, name, field, 0)
    code, _, err = cli("catalog", "validate", path)
    assert field in assert_cli_error(code, err)
    code, out, err = cli("predict", "megatron-1.7b", "--gpu", "h100-sxm", "--gpus", "16", "--fabric", "ib-ndr",
                         "--catalog-override", path, "--json")
    assert field in assert_cli_error(code, err) and out == ""


@pytest.mark.parametrize("value", [-1, 1e6, 1e300])
def test_numbers_outside_the_physical_range_are_refused(tmp_path, value):
    path = _override(tmp_path, "accelerator", "h100-sxm", "bf16_tflops", value)
    code, _, err = cli("catalog", "validate", path)
    msg = assert_cli_error(code, err)
    assert "bf16_tflops" in msg and ("physical range" in msg or "negative" in msg), msg


def test_free_parts_plan_without_dividing_by_zero(tmp_path):
    """Prices may be 0 (an included part): with every price 0 the plan still comes out as JSON."""
    q = {"value": 0, "estimate": "free in this test", "as_of": dt.date(2026, 1, 1), "basis": "quote"}
    doc = {"accelerators": [{"name": "h100-sxm", "price_usd": q}],
           "servers": [{"name": "hgx-h100-8gpu", "price_no_gpu_usd": q, "price_usd": q}],
           "nics": [{"name": "connectx-7-400g", "price_usd": q}], "switches": [{"name": "qm9700", "price_usd": q}]}
    path = tmp_path / "free.yaml"
    path.write_text(yaml.safe_dump(doc))
    code, out, err = cli("plan", "megatron-1.7b", "--accelerators", "h100-sxm", "--fabrics", "ib-ndr",
                         "--servers", "hgx-h100-8gpu", "--max-nodes", "4", "--catalog-override", path, "--json")
    assert code in (0, 5), err
    plan = json.loads(out)
    assert plan["recommendation"]["capex_usd"] >= 0


# -- fuzz: any in-range or edge value in any number of any entry ------------------------------

@st.composite
def edits(draw):
    cat = _builtin()
    kind = draw(st.sampled_from(["accelerator", "server", "fabric", "nic", "switch"]))
    entry = draw(st.sampled_from(sorted(cat.names(kind))))
    fields = [f for f in cat.get(kind, entry).q_fields()]
    field = draw(st.sampled_from(fields))
    rng = value_range(field) or (0, 1e6, True)
    lo, hi, _ = rng
    value = draw(st.sampled_from([0, -0.0, 5e-324, 1e-300, lo, hi, hi * 1.0001, max(lo, 1e-9), -1, 1, 2, 3, 6, 7])
                 | st.floats(min_value=lo, max_value=hi, allow_nan=False))
    if value == int(value) and abs(value) < 2**53:
        value = int(value) if draw(st.booleans()) else float(value)
    return kind, entry, field, value


def _project(cat, kind: str, entry: str):
    """validate, then a projection on hardware that uses the edited entry: finite or RaxError."""
    consistency_issues(cat)
    acc = entry if kind == "accelerator" else "h100-sxm"
    server = entry if kind == "server" else None
    fabric = entry if kind == "fabric" else "ib-ndr"
    if server is not None:
        accs = [a for a in cat.names("accelerator") if any(s.name == server for s in cat.servers_for(cat.accelerator(a)))]
        acc = accs[0] if accs else acc
    hw, _ = hardware_from_catalog(cat, gpu=acc, server=server, fabric=fabric)
    gpn = hw.gpus_per_node
    proj = predict_training(SHAPE, hw, Layout(dp=2 * gpn, global_batch=4 * gpn), "bf16", gpus=2 * gpn)
    for k in ("step_time_s", "tokens_per_s", "mfu"):
        v = getattr(proj, k)
        assert v is None or (isinstance(v, float) and math.isfinite(v)), (k, v)
    json.dumps(proj.to_dict(), allow_nan=False)


@fuzz(0.4)
@given(edit=edits())
def test_fuzz_catalogue_numbers_never_divide_by_zero(edit):
    kind, entry, field, value = edit
    with tempfile.TemporaryDirectory() as d:
        cat = check("catalog.numbers", load_catalog, _override(Path(d), kind, entry, field, value))
    if isinstance(cat, RaxError):
        assert "physical range" in str(cat) or "whole number" in str(cat) or field in str(cat), str(cat)
        return
    check("catalog.numbers.project", _project, cat, kind, entry)
