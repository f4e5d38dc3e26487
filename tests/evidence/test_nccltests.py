"""`rax import nccl-tests`: logs in the formats of nccl-tests' releases, the fit, the stored run,
and what predict / plan do with it. Fixtures in data/ are written in the exact layout of
nccl-tests' output (src/common.cu; see raxlab/evidence/nccltests.py for the sources), with times
from an alpha-beta model whose alpha and beta the tests then recover."""

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raxlab.cli.main import main
from raxlab.errors import RaxError
from raxlab.evidence import nccltests
from raxlab.evidence.importer import import_nccl_tests
from raxlab.store import Store

DATA = Path(__file__).parent / "data"
IB = DATA / "all_reduce_perf_2x8_h100_ib.log"


def _one(name, collective=None):
    (s,), _ = nccltests.parse_file(DATA / name, collective)
    return s


def test_modern_all_reduce_across_two_nodes():
    s = _one(IB.name)
    assert s.collective == "all_reduce" and s.ranks == 16 and s.hosts == ["gpu-node-01", "gpu-node-02"]
    assert s.header["minBytes"] == 8 and s.header["maxBytes"] == 8 * 2**30 and s.header["iters"] == 20
    assert len(s.rows) == 31 and s.rows[0]["redop"] == "sum" and s.rows[0]["root"] == "-1"
    assert {d["name"] for d in s.devices} == {"NVIDIA H100 80GB HBM3"}
    rows = nccltests.to_rows(s, *nccltests.resolve(s, None), "nccl-ib")
    big = rows[-1]
    assert big["placement"] == "in-place" and big["correct"] is True  # all-reduce: in place, as in training
    assert big["busbw_factor"] == pytest.approx(2 * 15 / 16) and big["dtype"] == "fp32"


def test_older_releases_without_root_or_wrong_columns():
    s = _one("all_reduce_perf_2019_dgx1.log")
    assert s.ranks == 8 and s.rows[0]["root"] is None and s.rows[0]["groups"][0]["max_error"] == 0.0
    b = _one("broadcast_perf_tcp_2021.log")  # root column, no redop; validation off: error N/A
    assert b.collective == "broadcast" and b.rows[0]["redop"] is None and b.rows[0]["root"] == "0"
    assert b.rows[0]["groups"][0]["wrong"] is None and b.rows[0]["groups"][0]["max_error"] is None


def test_no_validation_is_not_counted_as_correct():
    s = _one("all_gather_perf_nocheck.log")
    rows = nccltests.to_rows(s, *nccltests.resolve(s, None), "nccl")
    assert s.collective == "all_gather" and {r["correct"] for r in rows} == {None} and rows[0]["dtype"] == "bf16"


def test_several_runs_in_one_file():
    sections, _ = nccltests.parse_file(DATA / "single_node_sweep.log")
    assert [s.collective for s in sections] == ["reduce_scatter", "all_to_all", "send_recv"]
    assert [nccltests.resolve(s, None)[1] for s in sections] == [8, 8, 8]


def test_the_fit_recovers_the_fabric(tmp_path):
    out = import_nccl_tests(Store(tmp_path / "s.db"), [str(IB)])
    (fit,) = out["fits"]
    # the fixture's times: 28 us + S * 2(n-1)/n / 371 GB/s, +-2 % jitter
    assert fit["alpha_us"] == pytest.approx(28.0, rel=0.05) and fit["beta_GBps"] == pytest.approx(371.0, rel=0.03)
    assert fit["transport"] == "nccl-ib"  # from the NCCL_DEBUG=INFO lines in the log (NET/IB ... GDRDMA)


def test_stored_like_a_bench_comm_run(tmp_path):
    db = Store(tmp_path / "s.db")
    out = import_nccl_tests(db, [str(IB), str(DATA / "all_gather_perf_nocheck.log")], fabric="ib-ndr", rails=8)
    run = db.get_run(out["run_id"])
    assert run["kind"] == "bench.comm" and run["params"]["source"] == "imported"
    assert run["params"]["files"][0]["sha256"] == hashlib.sha256(IB.read_bytes()).hexdigest()
    assert run["params"]["gpus_per_host"] == 8 and len(run["points"]) == 31 + 13
    assert {f["collective"] for f in run["artifacts"]["comm_fit"]} == {"all_reduce", "all_gather"}


def test_predict_and_plan_use_the_imported_fabric(tmp_path, capsys):
    db = str(tmp_path / "s.db")
    assert main(["import", "nccl-tests", str(IB), "--fabric", "ib-ndr", "--rails", "8", "--store", db, "--json"]) == 0
    rid = json.loads(capsys.readouterr().out)["run_id"]
    base = ["predict", "llama3-8b", "--gpu", "h100-sxm", "--gpus", "64", "--fabric", "ib-ndr", "--tp", "2",
            "--pp", "2", "--store", db, "--json"]
    assert main([*base, "--comm-run", rid]) == 0
    note = next(a for a in json.loads(capsys.readouterr().out)["assumptions"] if rid in a)
    assert "per GPU (8 GPUs per host share its NICs)" in note  # node busbw split over the node's GPUs
    assert main(["plan", "llama3-8b", "--accelerators", "h100-sxm", "--fabrics", "ib-ndr", "--max-nodes", "8",
                 "--run", rid, "--store", db, "--json"]) in (0, 5)
    fits = json.loads(capsys.readouterr().out)["measured"]["fabric_fits"]
    assert fits["ib-ndr"]["run"] == rid and 0.9 < fits["ib-ndr"]["efficiency"] < 0.95  # 371 of 8 x 50 GB/s


def test_a_truncated_log_is_a_one_line_error_naming_the_line(capsys):
    assert main(["import", "nccl-tests", str(DATA / "all_reduce_perf_truncated.log")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "all_reduce_perf_truncated.log line 57: result row cut short" in err


def test_a_log_that_stops_before_its_summary(tmp_path):
    text = IB.read_text().split("# Out of bounds")[0]
    p = tmp_path / "all_reduce_perf.log"
    p.write_text(text)
    with pytest.raises(RaxError, match=r"line \d+: the log ends before `# Avg bus bandwidth`"):
        nccltests.parse_file(p)


def test_unnamed_logs_ask_and_are_checked(tmp_path):
    p = tmp_path / "run7.txt"
    p.write_text("\n".join(line for line in IB.read_text().splitlines() if "all_reduce_perf" not in line))
    with pytest.raises(RaxError, match="give --collective"):
        nccltests.resolve(nccltests.parse_file(p)[0][0], None)
    (s,), _ = nccltests.parse_file(p, "all_gather")
    with pytest.raises(RaxError, match=r"busbw/algbw = 1\.875, but all_gather over 16 ranks"):
        nccltests.resolve(s, None)
    assert nccltests.resolve(nccltests.parse_file(p, "all_reduce")[0][0], None) == ("all_reduce", 16)


def test_headers_without_the_hash_and_rows_alone(tmp_path):
    p = tmp_path / "all_reduce_perf.out"
    p.write_text("\n".join(line.lstrip("#") for line in IB.read_text().splitlines()))  # as some tools print it
    assert nccltests.parse_file(p)[0][0].ranks == 16
    rows = [line for line in IB.read_text().splitlines() if line.strip()[:1].isdigit()]
    q = tmp_path / "all_reduce_perf_rows.txt"
    q.write_text("\n".join(rows + ["# Avg bus bandwidth    : 1.0"]))
    (s,), _ = nccltests.parse_file(q)
    assert nccltests.resolve(s, None) == ("all_reduce", 16)  # ranks read from the bus factor


@given(st.text(max_size=300), st.integers(0, 6000))
def test_any_text_parses_or_is_one_line(junk, cut):
    from tests.reliability.fuzzkit import check

    text = IB.read_text()[:cut] + junk
    check("nccl-tests log", nccltests.parse_text, text, "all_reduce_perf.log")
