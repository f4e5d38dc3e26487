"""`rax predict`: the issue's example command, --json keys, one-line errors."""

import json

from raxlab.cli.main import main

EXAMPLE = ["predict", "llama3-70b", "--gpu", "h100-sxm", "--gpus", "1024", "--gpus-per-node", "8",
           "--fabric", "ib-ndr", "--tp", "8", "--pp", "4", "--dp", "32", "--micro-batch", "1", "--global-batch",
           "1024", "--seq-len", "8192", "--precision", "bf16", "--recompute", "selective", "--json"]


def test_example_command_json_keys(capsys, tmp_path):
    rc = main([*EXAMPLE, "--artefacts", str(tmp_path)])
    cap = capsys.readouterr()
    d = json.loads(cap.out)
    assert f"launch files to {tmp_path}" in cap.err  # the layout as launch files (tests/plan/test_artefacts*.py)
    megatron = (tmp_path / "megatron-args.txt").read_text().splitlines()
    assert {"--tensor-model-parallel-size 8", "--pipeline-model-parallel-size 4", "--recompute-granularity selective",
            "--global-batch-size 1024", "--num-layers 80"} <= set(megatron)
    assert "#SBATCH --nodes=128" in (tmp_path / "train.sbatch").read_text()
    assert rc == (0 if d["fits"] else 4)  # documented exit code: 4 when the layout does not fit
    for key in ("step_time_s", "tokens_per_s", "tflops_per_gpu", "mfu", "memory_per_gpu_gib", "fits", "terms",
                "error_band"):
        assert key in d, key
    assert {"compute", "communication", "bubble", "data_loading"} <= set(d["terms"])
    assert d["layout"]["grad_accum"] == 32


def test_impossible_layout_is_one_line(capsys):
    args = EXAMPLE[:]
    args[args.index("--dp") + 1] = "16"
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rax: error: gpus:") and "\n" not in err


def test_inference_mode(capsys, tmp_path):
    assert main(["predict", "llama3-8b", "--gpu", "h100-sxm", "--infer", "--decode-batch", "1,16",
                 "--json", "--artefacts", str(tmp_path)]) == 0
    d = json.loads(capsys.readouterr().out)
    assert "--max-num-seqs 16" in (tmp_path / "vllm.sh").read_text()  # the largest batch that fits
    assert [r["batch"] for r in d["per_batch"]] == [1, 16]
    assert d["error_band"] is None


def test_human_output(capsys):
    assert main(EXAMPLE[:-1]) in (0, 4)
    out = capsys.readouterr().out
    assert "step" in out and "data_loading" in out and "N/A" in out


SWEEP = ["predict", "llama3-8b", "--gpu", "h100-sxm", "--gpus", "64", "--fabric", "ib-ndr", "--tp", "1,2,4,8",
         "--pp", "1,2,4", "--micro-batch", "1,2", "--json"]


def test_sweep_is_sorted_by_throughput_with_reasons(capsys):
    assert main(SWEEP) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["kind"] == "sweep" and d["layouts"] == 24 == len(d["rows"])
    ok = [r for r in d["rows"] if r["fits"]]
    assert len(ok) == d["fitting"] and 0 < len(ok) < 24
    rates = [r["tokens_per_s"] for r in ok]
    assert rates == sorted(rates, reverse=True)
    assert d["rows"][: len(ok)] == ok  # the ones that fit come first
    assert all("GiB per GPU" in r["why"] for r in d["rows"][len(ok):])  # tp 1 pp 1: too big for 80 GB


def test_sweep_row_equals_the_single_projection(capsys):
    assert main(SWEEP) == 0
    best = json.loads(capsys.readouterr().out)["rows"][0]
    one = ["predict", "llama3-8b", "--gpu", "h100-sxm", "--gpus", "64", "--fabric", "ib-ndr", "--tp", str(best["tp"]),
           "--pp", str(best["pp"]), "--micro-batch", str(best["micro_batch"]), "--json"]
    assert main(one) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["step_time_s"] == best["step_time_s"] and d["memory_per_gpu_gib"] == best["memory_per_gpu_gib"]


def test_layouts_that_cannot_run_say_why(capsys):
    # 32 heads: tp 3 cannot split them; every layout fails, so the exit code says "does not fit"
    assert main(["predict", "llama3-8b", "--gpu", "h100-sxm", "--gpus", "6", "--tp", "3,6", "--json"]) == 4
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [r["fits"] for r in rows] == [False, False] and all("tp" in r["why"] for r in rows)


def test_a_layout_that_does_not_fit_exits_4(capsys):
    assert main(["predict", "llama3-70b", "--gpu", "h100-sxm", "--gpus", "8", "--tp", "8", "--json"]) == 4
    assert json.loads(capsys.readouterr().out)["fits"] is False


def test_deprecated_workload_flag_warns_on_stderr(capsys):
    assert main(["predict", "--workload", "llama3-8b", "--gpu", "h100-sxm", "--gpus", "8", "--json"]) in (0, 4)
    cap = capsys.readouterr()
    json.loads(cap.out)
    assert "--workload is deprecated" in cap.err


def test_workload_is_required(capsys):
    assert main(["predict", "--gpu", "h100-sxm"]) == 2
    assert "WORKLOAD" in capsys.readouterr().err


def test_expert_and_context_parallel_flags(capsys):
    base = ["predict", "mixtral-8x7b", "--gpu", "h100-sxm", "--fabric", "ib-ndr", "--gpus", "64", "--pp", "4",
            "--json"]
    assert main([*base, "--ep", "8"]) in (0, 4)
    d = json.loads(capsys.readouterr().out)
    assert d["layout"]["ep"] == 8 and d["layout"]["etp"] == 1
    comm = d["terms"]["communication"]
    assert comm["ep_dispatch_combine_all_to_all"] > 0 and d["terms_s"]["expert_compute"] > 0
    assert d["model"]["active_params"] < d["model"]["params"] / 3
    assert main([*base, "--ep", "3"]) == 2  # 8 experts are not divisible by 3
    assert capsys.readouterr().err.strip().startswith("rax: error: ep:")
    assert main([*base, "--cp", "2", "--ep", "8"]) in (0, 4)  # 4096 tokens in 2·cp chunks; EP folds into cp·dp
    d = json.loads(capsys.readouterr().out)
    assert d["layout"]["cp"] == 2 and d["layout"]["dp"] == 8
