"""Sections on real stored runs: a bench run renders its own sections and says what it lacks;
the pipeline run renders everything; every number carries a label."""

from __future__ import annotations

import json

from raxlab.report import collect, document, render
from raxlab.report.doc import Chart, Facts, Para, Table
from raxlab.store import Store


def _text(sec) -> str:
    parts = []
    for b in sec.blocks:
        if isinstance(b, Para):
            parts.append(b.text)
        elif isinstance(b, Table):
            parts += [c.text for row in b.rows for c in row]
    return "\n".join(parts)


def _sections(store, ref):
    return {s.key: s for s in document(collect(Store(store), ref)).sections}


def test_a_compute_run_alone_renders_its_sections_and_says_what_is_missing(pipeline):
    secs = _sections(pipeline.store, pipeline.children["compute"])
    guide = _text(secs["guideline"])
    assert "this run has no purchase plan" in guide
    assert f"rax plan llm-1b-pretrain --run {pipeline.children['compute']}" in guide  # the command that makes one
    keys = {b.key for b in secs["measured"].blocks if isinstance(b, Chart)}
    assert {"compute-step", "compute-throughput", "memory-measured"} <= keys
    assert "Not measured in this run" in _text(secs["fabric"])
    for key in ("pareto", "sensitivity"):
        assert "N/A" in _text(secs[key])
    assert "Measured on a proxy" in _text(secs["measured"])  # the default workload is measured via its proxy
    code = next(b.text for b in secs["reproduce"].blocks if b.kind == "code")
    assert "rax bench compute llm-1b-pretrain" in code and "--micro-batch 1,2" in code


def test_a_comm_run_alone_has_the_busbw_chart_and_its_fit(pipeline):
    secs = _sections(pipeline.store, pipeline.children["comm"])
    fabric = secs["fabric"]
    chart = next(b for b in fabric.blocks if isinstance(b, Chart) and b.key == "busbw")
    assert "α-β fit" in chart.svg and chart.svg.count('class="mark"') >= 4
    assert "all_reduce" in _text(fabric) and "gloo" in _text(fabric)
    assert "(no `rax bench compute` run)" in _text(secs["measured"])


def test_the_pipeline_renders_every_section_with_data(pipeline):
    secs = _sections(pipeline.store, pipeline.run_id)
    assert list(secs) == ["guideline", "card", "measured", "projections", "fabric", "pareto", "sensitivity",
                          "catalogue", "reproduce"]
    if pipeline.plan:
        for key in ("guideline", "projections", "pareto", "sensitivity", "catalogue"):
            missing = [b.text for b in secs[key].blocks if isinstance(b, Para) and b.style == "missing"]
            # this run stored no calibration artifact: that line, and only that, may say N/A
            assert all(t.startswith("No calibration in this run") for t in missing), (key, missing)
        assert any(isinstance(b, Facts) for b in secs["guideline"].blocks)
    stages = next(b for b in secs["measured"].blocks if isinstance(b, Table) and "stages" in b.caption)
    assert ["ddp", "skipped"] == [c.text for c in stages.rows[[r[0].text for r in stages.rows].index("ddp")][:2]]
    assert "no `rax bench ddp` run" in _text(secs["measured"])


def _unlabelled(table: Table) -> list[str]:
    out = []
    for i, col in enumerate(table.columns):
        cells = [row[i] for row in table.rows]
        if any(c.value is not None for c in cells) and col.label is None \
                and not all(c.label for c in cells if c.value is not None):
            out.append(col.title)
    return out


def test_every_number_is_labelled(pipeline):
    """A cell holding a number has a label (its own or its column's); identity columns such as
    batch size, rank count or item counts are parameters, not results, and are allowed bare."""
    allowed = {"batch", "ranks", "loader workers", "count", "rails", "GPUs", "size"}
    doc = document(collect(Store(pipeline.store), pipeline.run_id))
    for sec in doc.sections:
        for b in sec.blocks:
            tables = [b] if isinstance(b, Table) else [b.data] if isinstance(b, Chart) and b.data else []
            for t in tables:
                assert set(_unlabelled(t)) <= allowed, (sec.key, t.caption, _unlabelled(t))
            if isinstance(b, Facts):
                assert all(c.label for _, c in b.items if c.value is not None), sec.key


def test_markdown_and_json_cover_the_same_sections(pipeline):
    data = collect(Store(pipeline.store), pipeline.run_id)
    md = render(data, "md")
    doc = json.loads(render(data, "json"))
    titles = [s["title"] for s in doc["document"]["sections"]]
    assert all(f"## {t}" in md for t in titles)
    assert doc["data"]["root"]["id"] == pipeline.run_id and set(doc["data"]["stages"]) >= {"compute", "comm"}
    assert "[measured]" in md and ("[projected]" in md or not pipeline.plan)


def test_a_stage_whose_run_is_gone_is_reported_not_fatal(pipeline):
    st = Store(pipeline.store)
    rid = st.new_run("run", workload="llm-1b-pretrain")
    # plain ids (and lists of ids) are accepted as well as the pipeline's stage records
    st.put_artifact(rid, "stages", {"compute": [pipeline.children["compute"]], "comm": "20990101-000000-dead"})
    st.finish_run(rid)
    data = collect(st, rid)
    assert "comm" in data.missing_stages and "no run" in data.missing_stages["comm"]
    secs = {s.key: s for s in document(data).sections}
    assert "Stage comm: not in this report" in _text(secs["measured"])
