"""Fuzzed plan files for `rax accept PLAN.json` (a file the user keeps and may edit): a real
`rax plan --out` file with fields replaced by junk, truncated, nested deep. read_plan and the
figures derived from it raise a one-line RaxError or work; nothing else."""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from raxlab.accept.plan import Target, compute_step_s, read_plan
from tests.reliability.fuzzkit import check, fuzz, junk, mutated

PATHS = [("acceptance",), ("acceptance", "nodes"), ("acceptance", "gpus_per_node"), ("acceptance", "layout"),
         ("acceptance", "layout", "micro_batch"), ("acceptance", "layout", "dp"), ("acceptance", "projected"),
         ("acceptance", "projected", "step_time_s"), ("acceptance", "projected", "error_band"),
         ("acceptance", "projected", "error_band", "low"), ("acceptance", "workload"), ("acceptance", "rails"),
         ("recommendation",), ("recommendation", "projection"), ("recommendation", "projection", "terms"),
         ("recommendation", "projection", "terms", "compute"), ("schema",),
         # issue 20: every field typed (1.5 nodes), the layout a Layout, the spec by path and hash
         ("acceptance", "gpus"), ("acceptance", "precision"), ("acceptance", "seq_len"), ("acceptance", "server"),
         ("acceptance", "workload_sha256"), ("acceptance", "workload_ref"), ("acceptance", "surprise"),
         ("acceptance", "layout", "tp"), ("acceptance", "layout", "zero"), ("acceptance", "layout", "recompute"),
         ("acceptance", "layout", "grad_accum"), ("acceptance", "layout", "sequence_parallel"),
         ("acceptance", "layout", "colour"), ("acceptance", "projected", "step_time_band_s"),
         ("acceptance", "projected", "mfu")]
VALUES = junk() | st.sampled_from([0, -1, 1e308, float("nan"), "1", None, [], {}, True, "raxlab.plan/1", 1.5, 2.0, 3,
                                   "full", "a" * 64, "/etc/passwd", "../spec.yaml", 2**40])


class Plan(tuple):
    """(document, folder); a short repr keeps hypothesis' failure reports readable."""

    def __new__(cls, doc: dict, folder: Path):
        return super().__new__(cls, (doc, folder))

    def __repr__(self) -> str:
        return f"Plan({self[1]})"


@pytest.fixture(scope="module")
def plan():
    from tests.reliability.conftest import cli

    with tempfile.TemporaryDirectory(prefix="rax-fuzz-plan-") as d:
        out = Path(d) / "plan.json"
        code, _, err = cli("plan", "llama3-8b", "--accelerators", "h100-sxm", "--fabrics", "ib-ndr", "--max-nodes",
                           "16", "--out", out, "--json")
        assert code in (0, 5), err  # 5: no candidate of <= 16 nodes meets the targets; the plan is written
        yield Plan(json.loads(out.read_text()), Path(d))


@st.composite
def edits(draw):
    return [(draw(st.sampled_from(PATHS)), draw(VALUES)) for _ in range(draw(st.integers(1, 3)))]


def _apply(doc: dict, changes) -> dict:
    doc = copy.deepcopy(doc)
    for path, value in changes:
        node = doc
        for key in path[:-1]:
            if not isinstance(node, dict) or not isinstance(node.get(key), dict):
                break
            node = node[key]
        else:
            if isinstance(node, dict):
                node[path[-1]] = value
    return doc


def _read(folder: Path, text: str) -> None:
    p = Path(tempfile.mkstemp(suffix=".json", dir=folder)[1])
    p.write_text(text, errors="surrogatepass")
    try:
        t = check("accept.plan", read_plan, str(p))
        if isinstance(t, Target):
            check("accept.plan", lambda: (compute_step_s(t), t.gpus, t.band and t.band.time_bounds(1.0)))
    finally:
        p.unlink()



@fuzz(0.5)
@example(changes=[(("acceptance",), -1)])  # pins the once-escaping cases (now one-line errors)
@example(changes=[(("acceptance", "projected", "error_band", "low"), -1)])
@given(changes=edits())
def test_edited_plans(changes, plan):
    doc, folder = plan
    _read(folder, json.dumps(_apply(doc, changes), default=str))


@fuzz(0.3)
@given(data=st.data())
def test_truncated_and_nested_plans(data, plan):
    doc, folder = plan
    _read(folder, '{"schema": "raxlab.plan/1", "acceptance": ' + "[" * 5000 + "]" * 5000 + "}")  # the known escape
    text = json.dumps(doc)
    choice = data.draw(st.sampled_from(["mutate", "deep", "cut"]))
    if choice == "mutate":
        text = data.draw(mutated(text[:400]))
    elif choice == "deep":
        n = data.draw(st.integers(500, 50000))
        text = '{"schema": "raxlab.plan/1", "acceptance": ' + "[" * n + "]" * n + "}"
    else:
        text = text[:data.draw(st.integers(0, len(text)))]
    _read(folder, text)
