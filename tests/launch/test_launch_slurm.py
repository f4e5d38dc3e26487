"""rax launch --slurm: the sbatch script against a golden file, bash -n, and submission."""

import shutil
import subprocess
from pathlib import Path

import pytest

from raxlab.cli.main import main
from raxlab.launch.cluster import ClusterSpec
from raxlab.launch.job import parse_bench
from raxlab.launch.slurm import SlurmOptions, sbatch_script

GOLDEN = Path(__file__).parent / "data" / "sbatch_4x8_nccl-ib.sh"


def _script_4x8() -> str:
    job = parse_bench(["rax", "bench", "comm", "-e", "1G", "--dtypes", "bf16"], "nccl-ib")
    job.extra["gid_index"] = 3
    spec = ClusterSpec(4, 8, "HEAD", ifname="ib0", rdzv_timeout_s=300).validate().with_id(job)
    opts = SlurmOptions(partition="gpu", time="00:30:00", output_dir="/shared/rax/logs")
    return sbatch_script(spec, job, opts, "/shared/rax/results.db")


def test_4_nodes_of_8_gpus_matches_the_golden_script():
    # After an intended change, regenerate: write _script_4x8() to GOLDEN and review the diff.
    assert _script_4x8() == GOLDEN.read_text()


def test_the_script_is_valid_bash_and_names_the_parts_of_the_job():
    text = _script_4x8()
    if shutil.which("bash"):
        proc = subprocess.run(["bash", "-n"], input=text, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
    for want in ("#SBATCH --nodes=4", "#SBATCH --gpus-per-node=8", "scontrol show hostnames", "export NCCL_NET=IB",
                 "export NCCL_NET_PLUGIN=none", "export NCCL_SOCKET_IFNAME==ib0", "export NCCL_IB_GID_INDEX=3",
                 "export GLOO_SOCKET_IFNAME=ib0", "srun ", "--nproc-per-node 8", "torch.distributed.run",
                 "#SBATCH --output=/shared/rax/logs/rax-comm-%j.out", "--store /shared/rax/results.db"):
        assert want in text, want


def test_a_cpu_ddp_script_asks_for_no_gpus(tmp_path, capsys):
    out = tmp_path / "job.sbatch"
    assert main(["launch", "--slurm", "--nnodes", "2", "--out", str(out), "--", "rax", "bench", "ddp", "tiny-lm"]) == 0
    text = out.read_text()
    assert "--gpus-per-node" not in text and "rax bench ddp tiny-lm" in text
    assert "bash -n: ok" in capsys.readouterr().out


def test_submit_without_sbatch_is_a_clear_error(tmp_path, monkeypatch, capsys):
    if shutil.which("sbatch"):
        pytest.skip("sbatch is installed here: submitting would queue a real job")
    monkeypatch.chdir(tmp_path)
    assert main(["launch", "--slurm", "--submit", "--nnodes", "2", "--", "rax", "bench", "comm"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "sbatch is not on PATH" in err
    assert list(tmp_path.glob("rax-launch-*.sbatch")), "the script is kept for a later sbatch"
