"""Atomic report files, default paths, and the PDF path without a browser."""

from __future__ import annotations

import json
import os

import pytest

from raxlab.errors import RaxError
from raxlab.report import output, write_report
from raxlab.report.pdf import count_pages, find_chromium
from raxlab.store import Store


def test_write_atomic_replaces_and_leaves_no_temp(tmp_path):
    target = tmp_path / "r" / "report.html"
    output.write_atomic(target, "one")
    output.write_atomic(target, "two")
    assert target.read_text() == "two"
    assert sorted(os.listdir(target.parent)) == ["report.html"]


def test_write_atomic_failure_keeps_the_old_file(tmp_path):
    target = tmp_path / "report.html"
    target.write_text("old")
    (tmp_path / "blocker").mkdir()
    with pytest.raises(RaxError, match="directory"):
        output.write_atomic(tmp_path / "blocker", "new")
    assert target.read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["blocker", "report.html"]


def test_default_path_is_per_run_beside_the_store(tmp_path):
    p = output.default_path(tmp_path / "rax.db", "20260101-000000-abcd", "report.html")
    assert p == (tmp_path / "reports" / "20260101-000000-abcd" / "report.html").resolve()


def test_pdf_without_chromium_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setenv("RAX_CHROMIUM", str(tmp_path / "no-such-browser"))
    assert find_chromium() is None
    st = Store(tmp_path / "rax.db")
    rid = st.new_run("compute", workload="w")
    st.finish_run(rid)
    with pytest.raises(RaxError) as err:
        write_report(st, rid, "pdf", tmp_path / "r.pdf")
    msg = str(err.value)
    assert "apt-get install chromium" in msg and "\n" not in msg
    assert not (tmp_path / "r.pdf").exists()


def test_count_pages_reads_the_page_tree():
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >> endobj\n" \
          b"2 0 obj << /Type /Page /Parent 1 0 R >> endobj\n3 0 obj << /Type /Page /Parent 1 0 R >> endobj\n%%EOF"
    assert count_pages(pdf) == 2
    assert count_pages(pdf.replace(b"/Count 2", b"")) == 2


def test_an_empty_run_renders_with_every_section_saying_so(tmp_path):
    st = Store(tmp_path / "rax.db")
    rid = st.new_run("compute", workload="w")
    st.finish_run(rid)
    path = write_report(st, rid, "html")
    html = path.read_text()
    assert path.parent.name == rid and "Nothing was measured in this run" in html
    assert html.count('class="missing"') >= 6


def test_report_cli_writes_to_stdout_and_refuses_pdf_there(tmp_path, capsys):
    from raxlab.cli.main import main

    st = Store(tmp_path / "rax.db")
    rid = st.new_run("compute", workload="w")
    st.finish_run(rid)
    assert main(["report", rid, "--format", "md", "--out", "-", "--store", str(st.path)]) == 0
    assert capsys.readouterr().out.startswith("# RA:X report: w")
    assert main(["report", rid, "--format", "pdf", "--out", "-", "--store", str(st.path)]) == 2
    assert not (tmp_path / "-").exists() and not os.path.exists("-")
    assert main(["report", rid, "--json", "--store", str(st.path)]) == 0
    assert json.loads(capsys.readouterr().out)["path"].endswith(f"{rid}/report.html")
