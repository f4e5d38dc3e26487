"""`rax import train-log`: Megatron-LM, torchtitan and Hugging Face Trainer logs (fixtures in the
line formats those frameworks print; numbers synthetic) as calibration points with the
projection's error, shown by `rax report`."""

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raxlab.cli.main import main
from raxlab.errors import RaxError
from raxlab.evidence import trainlog
from raxlab.evidence.trainlog_import import merge_layout

DATA = Path(__file__).parent / "data"
MEGATRON, TITAN, HF = DATA / "megatron_llama3_8b.log", DATA / "torchtitan_llama3_8b.log", DATA / "hf_trainer_llama.log"


def _log(path):
    return trainlog.parse(path.read_text(), path.name)


def test_megatron_iterations_and_the_layout_it_states():
    log = _log(MEGATRON)
    assert log.framework == "megatron" and len(log.records) == 40
    lay = merge_layout({}, log)
    assert lay == {"tp": 2, "pp": 1, "dp": 32, "gpus": 64, "micro_batch": 2, "global_batch": 512, "seq_len": 8192,
                   "precision": "bf16", "sequence_parallel": True, "zero": 1}
    recs, skipped = trainlog.steady(log)
    assert skipped == 4 and recs[0]["step"] == 5  # the slow first iterations are warm-up
    assert trainlog.summarize(recs, "step_time_s")["median"] == pytest.approx(9.62, abs=0.03)


def test_the_command_line_and_the_log_must_agree():
    with pytest.raises(RaxError, match="--tp 4 but the log says 2"):
        merge_layout({"tp": 4}, _log(MEGATRON))


def test_torchtitan_per_gpu_figures_through_its_colour_codes():
    log = _log(TITAN)
    assert log.framework == "torchtitan" and len(log.records) == 30
    assert log.records[-1]["tokens_per_s_per_gpu"] == 6821 and log.records[-1]["mfu"] == pytest.approx(0.3755)
    assert log.stated == {"micro_batch": 2, "global_batch": 512, "seq_len": 8192}


def test_hugging_face_summary_and_its_batch_lines():
    log = _log(HF)
    assert log.framework == "huggingface" and log.stated["logged_steps"] == 12
    assert log.stated["micro_batch"] == 4 and log.stated["global_batch"] == 32
    (rec,) = trainlog.steady(log)[0]
    assert rec["step_time_s"] == pytest.approx(1 / 1.961) and rec["samples_per_s"] == 62.74


@pytest.mark.parametrize("text, match", [
    ((DATA / "megatron_truncated.log").read_text(), r"line 59: Megatron-LM iteration 40 without `elapsed time"),
    (HF.read_text().rsplit("'train_steps_per_second'", 1)[0], r"line \d+: a Hugging Face Trainer log dict that does "
                                                              "not parse"),
    (TITAN.read_text().replace("tps:", "tqs:"), r"line 2: torchtitan step 1 without `tps:`"),
    ("loss went down\n", "no training-step records"),
])
def test_bad_or_truncated_logs_name_the_line(text, match):
    with pytest.raises(RaxError, match=match) as err:
        trainlog.parse(text, "train.log")
    assert "\n" not in str(err.value)


def test_stored_points_and_the_projection_error_in_the_report(tmp_path, capsys):
    db = str(tmp_path / "s.db")
    assert main(["import", "train-log", "llama3-8b", str(TITAN), "--gpu", "h100-sxm", "--fabric", "ib-ndr",
                 "--gpus", "64", "--tp", "1", "--pp", "1", "--zero", "3", "--store", db, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    step = next(r for r in out["rows"] if r["quantity"] == "step time")
    assert step["measured"] == pytest.approx(512 * 8192 / (6810 * 64), rel=0.02)  # from tps x GPUs, as the log has
    assert step["error"] == pytest.approx(step["projected"] / step["measured"] - 1)
    assert main(["runs", "show", out["run_id"], "--json", "--store", db]) == 0
    run = json.loads(capsys.readouterr().out)
    assert run["kind"] == "train-log" and {p["status"] for p in run["points"]} == {"ok", "skipped"}
    assert main(["report", out["run_id"], "--format", "md", "--out", "-", "--store", db]) == 0
    md = capsys.readouterr().out
    assert "training log (imported)" in md and "torchtitan: step time" in md


def test_without_the_hardware_the_points_are_kept_and_the_gap_named(tmp_path, capsys):
    assert main(["import", "train-log", "llama3-8b", str(HF), "--store", str(tmp_path / "s.db"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rows"] == [] and "give --gpu, --gpus, --tp, --pp" in out["notes"][0]


@given(st.text(max_size=400), st.integers(0, 9000))
def test_any_text_parses_or_is_one_line(junk, cut):
    from tests.reliability.fuzzkit import check

    check("training log", trainlog.parse, MEGATRON.read_text()[:cut] + junk, "train.log")
