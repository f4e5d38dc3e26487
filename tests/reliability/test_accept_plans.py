"""Plan files for `rax accept`, validated strictly; the spec found by absolute path and content
hash (issue 20: a fractional node count was taken as 1 node and the measurement started; the
plan stored the spec path relative to where `rax plan` ran, so `rax accept` from another
directory failed or picked up a different file)."""

from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path

import pytest

from raxlab.accept.plan import read_plan
from raxlab.accept.plan_schema import KEYS
from raxlab.errors import RaxError
from raxlab.store import Store
from raxlab.workload.presets import PRESET_DIR
from tests.reliability.conftest import assert_cli_error, cli


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A spec file in its own folder and the plan `rax plan` made for it, run from that folder."""
    d = tmp_path_factory.mktemp("planned")
    shutil.copy(PRESET_DIR / "tiny-lm.yaml", d / "spec.yaml")
    here = os.getcwd()
    os.chdir(d)
    try:
        code, _, err = cli("plan", "spec.yaml", "--accelerators", "h100-sxm", "--fabrics", "ib-ndr", "--max-nodes",
                           "2", "--out", "plan.json", "--catalog-override", "none")
    finally:
        os.chdir(here)
    assert code in (0, 5), err
    return d, json.loads((d / "plan.json").read_text())


def _write(tmp_path: Path, doc: dict) -> str:
    p = tmp_path / "p.json"
    p.write_text(json.dumps(doc))
    return str(p)


def _edit(doc: dict, **acc) -> dict:
    doc = copy.deepcopy(doc)
    for k, v in acc.items():
        if k.startswith("layout__"):
            doc["acceptance"]["layout"][k.removeprefix("layout__")] = v
        else:
            doc["acceptance"][k] = v
    return doc


def test_the_plan_records_the_absolute_spec_path_and_its_hash(made):
    d, doc = made
    acc = doc["acceptance"]
    assert acc["workload"] == os.path.realpath(d / "spec.yaml") and acc["workload_ref"] == "spec.yaml"
    assert len(acc["workload_sha256"]) == 64
    assert set(acc) <= set(KEYS), "plan.detail.acceptance writes a key plan_schema.KEYS does not know"


def test_accept_from_another_folder_reads_the_same_spec(made, tmp_path, monkeypatch):
    d, _ = made
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.yaml").write_text("name: decoy\nmodel: small-cnn\ndata: shapes\n")  # same name, other file
    t = read_plan(str(d / "plan.json"))
    assert t.workload == os.path.realpath(d / "spec.yaml")


def test_a_changed_or_missing_spec_is_refused_in_one_line(made, tmp_path):
    d, doc = made
    other = tmp_path / "spec.yaml"
    shutil.copy(d / "spec.yaml", other)
    plan = _write(tmp_path, _edit(doc, workload=str(other)))
    read_plan(plan)  # the same bytes elsewhere: fine
    other.write_text(other.read_text().replace("micro_batch: 8", "micro_batch: 4"))
    with pytest.raises(RaxError, match="another version") as exc:
        read_plan(plan)
    assert "\n" not in str(exc.value)
    other.unlink()
    with pytest.raises(RaxError, match="not there"):
        read_plan(plan)
    with pytest.raises(RaxError, match="relative path"):
        read_plan(_write(tmp_path, _edit(doc, workload="spec.yaml", workload_sha256=None)))


BAD = [dict(nodes=1.5), dict(nodes=2.0), dict(nodes=True), dict(nodes="2"), dict(nodes=0), dict(nodes=-1),
       dict(gpus_per_node=8.5), dict(gpus=3), dict(rails=1.5), dict(precision="fp13"), dict(seq_len=0.5),
       dict(accelerator=7), dict(workload=""), dict(workload_sha256="abc"), dict(surprise=1),
       dict(layout__tp=1.5), dict(layout__tp=3), dict(layout__dp=0), dict(layout__recompute="most"),
       dict(layout__sequence_parallel="yes"), dict(layout__zero=True), dict(layout__grad_accum=999),
       dict(layout__colour="red"), dict(layout=[1, 2])]


@pytest.mark.parametrize("change", BAD, ids=[next(iter(c)) + "=" + repr(next(iter(c.values()))) for c in BAD])
def test_every_field_is_typed_and_bounded(made, tmp_path, change):
    _, doc = made
    with pytest.raises(RaxError) as exc:
        read_plan(_write(tmp_path, _edit(doc, **change)))
    assert "\n" not in str(exc.value) and str(exc.value).startswith("PLAN:")


def test_rax_accept_refuses_a_fractional_node_count_before_measuring(made, tmp_path):
    _, doc = made
    db = tmp_path / "rax.db"
    code, _, err = cli("accept", _write(tmp_path, _edit(doc, nodes=1.5)), "--store", db)
    assert "nodes" in assert_cli_error(code, err)
    assert not db.exists() or Store(db, readonly=True).list_runs() == []


def test_the_emulated_plan_writer_writes_only_known_keys():
    """The second writer of plans (accept.emulated, rax plan sizes no CPU nodes) against the schema."""
    import inspect

    from raxlab.accept import emulated
    from raxlab.accept.plan_schema import PROJECTED

    src = inspect.getsource(emulated.emulated_plan)
    for block, known in (("projected = {", PROJECTED), ("acc = {", KEYS)):
        body = src[src.index(block):].split("}", 1)[0]
        import re

        keys = re.findall(r'"([a-z_0-9]+)":', body)
        assert keys and set(keys) <= set(known), (block, set(keys) - set(known))
