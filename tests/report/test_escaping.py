"""User strings stay text: a workload named `<script>alert(1)</script>` (through the real spec
loader), a note, a directory name and a stage name with markup, in HTML and in Markdown."""

from __future__ import annotations

import copy
import re

import pytest

from raxlab.report import collect, render
from raxlab.store import Store

NAME = "<script>alert(1)</script>"
DESC = '<img src=x onerror=alert(2)>'
NOTE = '"><svg onload=alert(3)>'
STAGE = "<iframe src=javascript:alert(4)>"
RAW = (NAME, "<img src=x", "<svg onload", "<iframe")


def _evil_spec(tmp_path):
    folder = tmp_path / "evil<b>dir"
    folder.mkdir()
    spec = folder / "spec.yaml"
    spec.write_text(f"name: '{NAME}'\ndescription: '{DESC}'\nmodel: small-cnn\n"
                    "model_args: {num_classes: 4, in_channels: 3, width: 16}\ndata: shapes\nimage_size: 32\n"
                    "micro_batch: 4\n")
    return spec


@pytest.fixture(scope="module")
def evil_run(pipeline, tmp_path_factory):
    """A pipeline run whose user strings carry markup, with real measured points and the real plan."""
    from raxlab.workload import load_workload

    wl = load_workload(str(_evil_spec(tmp_path_factory.mktemp("evil"))))
    assert wl.name == NAME  # the loader keeps the user's string as it is
    st = Store(pipeline.store)
    src = st.get_run(pipeline.children["compute"])
    rid = st.new_run("compute", workload=wl.name, spec=wl.spec.model_dump(mode="json"), note=NOTE,
                     params={**src["params"], "data_dir": wl.spec.base_dir})
    for fp in src["fingerprints"].values():
        st.add_fingerprint(rid, fp)
    for p in src["points"]:
        st.add_point(rid, p["kind"], p["name"], p["status"], params=p["params"], result=p["result"],
                     samples=p["samples"], error=p["error"])
    # the measured run's card under the user's name (tracing a second card would only cost time)
    st.put_artifact(rid, "card", {**src["artifacts"]["card"], "name": wl.name, "model": wl.name})
    st.finish_run(rid)
    top = st.new_run("run", workload=wl.name, note=NOTE)
    st.put_artifact(top, "stages", {"compute": rid, STAGE: None})
    if pipeline.plan:
        plan = copy.deepcopy(pipeline.plan)
        plan["guideline"] = [f"Buy {NAME}"] + plan.get("guideline", [])[1:]
        plan["recommendation"]["nic"] = DESC
        st.put_artifact(top, "plan", plan)
    st.finish_run(top)
    return st, top


def test_html_escapes_every_user_string(evil_run):
    st, rid = evil_run
    html = render(collect(st, rid), "html")
    for raw in RAW:
        assert raw not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html.lower()  # the report itself carries no script at all


def _outside_code(md: str) -> str:
    """Markdown with its fenced code blocks removed (their content is shown verbatim as text)."""
    return re.sub(r"^(`{3,})[^\n]*\n.*?^\1\s*$", "", md, flags=re.S | re.M)


def test_markdown_escapes_every_user_string(evil_run):
    st, rid = evil_run
    md = render(collect(st, rid), "md")
    prose = _outside_code(md)
    assert prose != md  # the reproduce commands were in a code block
    for raw in RAW:
        assert raw not in prose
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in prose
    # inside the code block the name is shell-quoted, so the command is copy-paste safe
    assert f"rax bench compute '{NAME}'" in md


def test_paths_with_markup_are_escaped(tmp_path):
    st = Store(tmp_path / "st<b>ore" / "rax.db")
    rid = st.new_run("compute", workload="w")
    st.finish_run(rid)
    html = render(collect(st, rid), "html")
    assert "st&lt;b&gt;ore" in html and "st<b>ore" not in html


def test_in_a_browser_the_name_is_text(evil_run, tmp_path):
    from tests.report.cdp import Browser
    from tests.report.conftest import chromium_or_skip

    exe = chromium_or_skip()
    st, rid = evil_run
    page = tmp_path / "evil.html"
    page.write_text(render(collect(st, rid), "html"))
    with Browser(exe) as b:
        sid = b.open(page.resolve().as_uri())
        assert b.errors() == []
        assert b.evaluate(sid, "document.scripts.length") == 0
        assert b.evaluate(sid, "document.querySelectorAll('[onerror],[onload],iframe,img').length") == 0
        text = b.evaluate(sid, "document.body.innerText")
    assert NAME in text and DESC in text and STAGE in text
