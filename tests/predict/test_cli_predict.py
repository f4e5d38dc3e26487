"""`rax predict`: the issue's example command, --json keys, one-line errors."""

import json

from raxlab.cli.main import main

EXAMPLE = ["predict", "--workload", "llama3-70b", "--gpu", "h100-sxm", "--gpus", "1024", "--gpus-per-node", "8",
           "--fabric", "ib-ndr", "--tp", "8", "--pp", "4", "--dp", "32", "--micro-batch", "1", "--global-batch",
           "1024", "--seq-len", "8192", "--precision", "bf16", "--recompute", "selective", "--json"]


def test_example_command_json_keys(capsys):
    assert main(EXAMPLE) == 0
    d = json.loads(capsys.readouterr().out)
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


def test_inference_mode(capsys):
    assert main(["predict", "--workload", "llama3-8b", "--gpu", "h100-sxm", "--infer", "--batch", "1", "16",
                 "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert [r["batch"] for r in d["per_batch"]] == [1, 16]
    assert d["error_band"] is None


def test_human_output(capsys):
    assert main(EXAMPLE[:-1]) == 0
    out = capsys.readouterr().out
    assert "step" in out and "data_loading" in out and "N/A" in out
