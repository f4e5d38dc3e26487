"""Launch artefacts end to end: valid bash, RA:X's own launcher on the fabric check, the generated
torchrun.sh run for real on one node, and `rax plan|predict --artefacts DIR`."""

import json
import os
import shlex
import subprocess
import sys

import pytest

from raxlab.cli.main import main
from raxlab.plan import artefacts
from raxlab.plan import artefacts_frameworks as fw
from raxlab.plan.launch_target import fabric_block, model_block
from raxlab.predict.shape import TransformerShape

# a small Llama-style shape (GQA, SwiGLU): what the files say does not depend on the size
SHAPE = TransformerShape(hidden=1024, layers=8, heads=16, ffn=2816, vocab=32000, seq=2048, kv_heads=4,
                         gated_mlp=True, tied_embeddings=False)


def block_for(catalog, *, nodes, gpn=8, fabric="ib-ndr", precision="bf16", task="train", **lay):
    b = {"label": "projected", "source": "test", "workload": "w", "task": task, "accelerator": "h100-sxm",
         "server": "hgx-h100-8gpu", "nodes": nodes, "gpus_per_node": gpn, "gpus": nodes * gpn,
         "precision": precision, "seq_len": 2048, "model": model_block(SHAPE),
         "fabric": fabric_block(catalog, fabric, 4) if nodes > 1 else None}
    if task == "infer":
        b["serving"] = {"tp": 2, "replicas": 7, "max_num_seqs": 64, "prompt_tokens": 2048, "gen_tokens": 256,
                        "max_model_len": 2304, "kv_cache_dtype": "auto", "gpu_memory_utilization": 0.95,
                        "static_memory_fraction": 0.92}
        return b
    layout = {"tp": 2, "pp": 1, "vpp": 1, "zero": 1, "recompute": "selective", "sequence_parallel": True,
              "micro_batch": 2, "overlap_grad_reduce": True, "grad_reduce_bytes": 2, **lay}
    layout["dp"] = nodes * gpn // (layout["tp"] * layout["pp"])
    layout["global_batch"] = layout["micro_batch"] * layout["dp"] * 2
    layout["grad_accum"] = 2
    return {**b, "layout": layout}


def _bash_ok(text: str) -> None:
    proc = subprocess.run(["bash", "-n"], input=text, text=True, capture_output=True, timeout=30)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("fabric", ["ib-ndr", "roce-400", "tcp-100"])
def test_scripts_are_valid_bash_and_force_the_fabrics_transport(catalog, fabric):
    b = block_for(catalog, nodes=4, fabric=fabric)
    files = artefacts.render(b)
    assert set(files) == {"README.md", "train.sbatch", "torchrun.sh", "megatron-args.txt", "torchtitan.toml",
                          "deepspeed.json", "fabric-check.sh"}
    for name in ("train.sbatch", "torchrun.sh", "fabric-check.sh"):
        _bash_ok(files[name])
    sb = files["train.sbatch"]
    assert "#SBATCH --nodes=4" in sb and "#SBATCH --gpus-per-node=8" in sb and "--nproc-per-node 8" in sb
    net = "Socket" if fabric.startswith("tcp") else "IB"
    assert f"export NCCL_NET={net}" in sb and "export NCCL_NET_PLUGIN=none" in sb
    assert ("NCCL_IB_GID_INDEX" in sb) == fabric.startswith("roce")
    assert "export CUDA_DEVICE_MAX_CONNECTIONS=1" in sb  # tp 2 under Megatron-LM


def test_one_node_and_serving_files(catalog):
    one = artefacts.render(block_for(catalog, nodes=1, tp=1))
    assert "fabric-check.sh" not in one and "NCCL_NET" not in one["train.sbatch"]
    assert "--standalone" in one["torchrun.sh"] and "CUDA_DEVICE_MAX_CONNECTIONS" not in one["torchrun.sh"]
    serve = artefacts.render(block_for(catalog, nodes=2, task="infer", precision="fp8"))
    assert set(serve) == {"README.md", "vllm.sh", "sglang.sh"}
    for name in ("vllm.sh", "sglang.sh"):
        _bash_ok(serve[name])
    assert 'REPLICAS="${REPLICAS:-4}"' in serve["vllm.sh"]  # 8 GPUs per node / tp 2 (7 replicas: 4 + 3)
    v = fw.vllm_args(block_for(catalog, nodes=2, task="infer", precision="fp8"))
    assert v[v.index("--max-num-seqs") + 1] == "64" and v[-2:] == ["--quantization", "fp8"]
    assert "only where they are installed" in serve["README.md"]


def test_the_fabric_check_runs_through_rax_launch(catalog, tmp_path, capsys):
    b = block_for(catalog, nodes=4, fabric="roce-400")
    argv = artefacts.fabric_check(b)
    assert argv[:2] == ["rax", "launch"] and argv[argv.index("--transport") + 1] == "nccl-ib"
    out = tmp_path / "check.sbatch"
    slurm = [str(out) if a == "rax-fabric-check.sbatch" else a for a in argv[1:]]
    assert main(slurm + []) == 0  # rax launch --slurm writes the script (after its own bash -n)
    text = out.read_text()
    assert "#SBATCH --nodes=4" in text and "--nproc-per-node 8" in text and "NCCL_NET=IB" in text
    # the same launch as a plain dry run: what this node would run, nothing started
    dry = [a for a in argv[1:] if a not in ("--slurm", "--out", "rax-fabric-check.sbatch")]
    cut = dry.index("--")
    capsys.readouterr()
    assert main(dry[:cut] + ["--rdzv-endpoint", "127.0.0.1:29400", "--json"] + dry[cut:]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["nnodes"] == 4 and d["nproc_per_node"] == 8 and d["transport"] == "nccl-ib"


RECORDER = """import json, os, sys
rank = os.environ["RANK"]
keep = ("WORLD_SIZE", "LOCAL_WORLD_SIZE", "CUDA_DEVICE_MAX_CONNECTIONS")
with open(os.path.join(os.environ["REC_DIR"], "rank" + rank + ".json"), "w") as f:
    json.dump({"argv": sys.argv[1:], "env": {k: os.environ.get(k) for k in keep}}, f)
"""


def _run_script(path, env, timeout=240):
    proc = subprocess.run(["bash", str(path)], env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.slow
def test_torchrun_sh_runs_megatron_through_real_torchrun(catalog, tmp_path):
    """One node, 2 processes: the generated script runs torchrun, which starts Megatron-LM's entry (a
    recorder standing in for pretrain_gpt.py) with exactly the generated arguments and environment."""
    b = block_for(catalog, nodes=1, gpn=2, tp=2)
    artefacts.write(b, str(tmp_path / "files"))
    (tmp_path / "pretrain_gpt.py").write_text(RECORDER)
    env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}", "FRAMEWORK": "megatron",
           "REC_DIR": str(tmp_path), "MEGATRON_LM": str(tmp_path), "OMP_NUM_THREADS": "1"}
    _run_script(tmp_path / "files" / "torchrun.sh", env)
    got = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert all(g["env"]["WORLD_SIZE"] == "2" and g["env"]["LOCAL_WORLD_SIZE"] == "2" for g in got)
    assert got[0]["argv"] == fw.megatron_args(b) and got[0]["env"]["CUDA_DEVICE_MAX_CONNECTIONS"] == "1"


def test_torchrun_sh_hands_deepspeed_its_config(catalog, tmp_path):
    """Multi-node: what the script passes to torchrun (a shim on PATH records it), read back by torch's own
    torchrun parser; the DeepSpeed entry gets the generated config file."""
    from torch.distributed.run import config_from_args, get_args_parser

    b = block_for(catalog, nodes=4, fabric="tcp-100")
    artefacts.write(b, str(tmp_path / "files"))
    shim = tmp_path / "bin" / "torchrun"
    shim.parent.mkdir()
    shim.write_text('#!/bin/bash\nprintf "%s\\n" "$@" > "$REC_DIR/torchrun.args"\nenv > "$REC_DIR/torchrun.env"\n')
    shim.chmod(0o755)
    env = {**os.environ, "PATH": f"{shim.parent}:{os.environ['PATH']}", "FRAMEWORK": "deepspeed", "IFNAME": "eth7",
           "REC_DIR": str(tmp_path), "RDZV_HOST": "10.1.2.3", "TRAIN_SCRIPT": "train.py"}
    _run_script(tmp_path / "files" / "torchrun.sh", env, timeout=30)
    words = (tmp_path / "torchrun.args").read_text().splitlines()
    config, cmd, cmd_args = config_from_args(get_args_parser().parse_args(words))
    assert (config.max_nodes, config.nproc_per_node, config.rdzv_endpoint) == (4, 8, "10.1.2.3:29400")
    cmd_args = cmd_args[1:] if cmd_args[:1] == ["-u"] else cmd_args  # torchrun runs `python -u SCRIPT`
    assert cmd_args[:3] == ["train.py", "--deepspeed", "--deepspeed_config"]
    assert json.loads(open(cmd_args[3]).read()) == fw.deepspeed_config(b)
    seen = dict(ln.split("=", 1) for ln in (tmp_path / "torchrun.env").read_text().splitlines() if "=" in ln)
    assert seen["NCCL_NET"] == "Socket" and seen["NCCL_SOCKET_IFNAME"] == "=eth7" and seen["GLOO_SOCKET_IFNAME"] == "eth7"


def test_an_unwritable_artefacts_dir_is_a_one_line_error(catalog, tmp_path):
    from raxlab.errors import RaxError

    (tmp_path / "f").write_text("")
    with pytest.raises(RaxError, match="^--artefacts: cannot write"):
        artefacts.write(block_for(catalog, nodes=1), str(tmp_path / "f" / "sub"))
