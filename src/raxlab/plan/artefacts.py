"""Launch artefacts: what a team runs for the layout a plan projected, as text, from the `launch` block.

    files = render(block)                 # {file name: text}; block = plan["launch"] (plan/launch_target.py)
    paths = write(block, "launch-files")  # the same files on disk (`rax plan|predict --artefacts DIR`)

Training: `train.sbatch` (Slurm: nodes, GPUs per node, c10d rendezvous on the first node, the NCCL
environment of the fabric) and `torchrun.sh` (the same torchrun on any cluster), each starting one of
`megatron-args.txt` (Megatron-LM / Megatron-Core arguments), `torchtitan.toml` (torchtitan 0.2 job
config) or `deepspeed.json` (DeepSpeed config) as FRAMEWORK=megatron|torchtitan|deepspeed chooses;
`fabric-check.sh`, RA:X's own `rax launch` of `rax bench comm` on the same nodes and transport (run it
first: it measures the fabric the plan assumed). Serving: `vllm.sh` and `sglang.sh`, one engine per
replica. `README.md` says what each file is and that every setting is the projection's, not a measurement.

The per-framework settings live in `artefacts_frameworks.py`; this module holds the launchers.
Each framework's own parser or schema checks these files in tests/plan/test_artefacts*.py.
"""

from __future__ import annotations

import json
import shlex

from raxlab.plan import artefacts_frameworks as fw

C10D_PORT = 29400  # torchrun's c10d rendezvous default port (torch/distributed/run.py)
FRAMEWORKS = ("megatron", "torchtitan", "deepspeed")


def frameworks(block: dict) -> tuple[str, ...]:
    """Megatron-LM and torchtitan train transformers; other models get the DeepSpeed config only."""
    return FRAMEWORKS if block.get("model") else ("deepspeed",)


def nccl_env(block: dict) -> dict[str, str]:
    """The NCCL variables that force the plan's fabric (one node: none, NCCL picks NVLink/P2P).

    From the transport arms RA:X measures with (measure/comm/transports.py): NCCL_NET=IB for
    InfiniBand and RoCE (IB verbs), NCCL_NET=Socket for TCP, external net plugins off, and
    NCCL_DEBUG=INFO on INIT,NET so the job log shows which transport ran."""
    fab = block.get("fabric")
    if not fab or block["nodes"] < 2:
        return {}
    from raxlab.measure.comm import transports

    return transports.arm_env(transports.get_arm(fab["arm"]))


def hosts(block: dict) -> tuple[int, int]:
    """(OS hosts, GPUs per host) the launcher starts: a plan's node is its scale-up domain, which on a
    rack-scale server (GB200 NVL72: 72 GPUs) is several hosts (18 trays x 4 GPUs)."""
    return int(block.get("hosts", block["nodes"])), int(block.get("gpus_per_host", block["gpus_per_node"]))


def torchrun_args(block: dict, endpoint: str, rdzv_id: str) -> list[str]:
    """torchrun's own flags for the plan's cluster (host count, processes per host, rendezvous)."""
    n, g = hosts(block)
    if n == 1:
        return ["torchrun", "--standalone", "--nnodes", "1", "--nproc-per-node", str(g)]
    return ["torchrun", "--nnodes", str(n), "--nproc-per-node", str(g),
            "--rdzv-backend", "c10d", "--rdzv-endpoint", endpoint, "--rdzv-id", rdzv_id, "--max-restarts", "0"]


def entry_args(framework: str) -> list[str]:
    """What torchrun starts for each framework (paths relative to $HERE, the artefact folder)."""
    return {"megatron": ['"${MEGATRON_LM:?set MEGATRON_LM to a Megatron-LM checkout}/pretrain_gpt.py"',
                         '"${MEGATRON_ARGS[@]}"', "${DATA_ARGS:-}"],
            "torchtitan": ["-m", "torchtitan.train", "--job.config_file", '"$HERE/torchtitan.toml"'],
            "deepspeed": ['"${TRAIN_SCRIPT:?set TRAIN_SCRIPT to your DeepSpeed training script}"', "--deepspeed",
                          "--deepspeed_config", '"$HERE/deepspeed.json"', "${TRAIN_ARGS:-}"]}[framework]


def _env_lines(block: dict) -> list[str]:
    env = nccl_env(block)
    fab = block.get("fabric")
    if not env:
        return ["# One node: NCCL uses NVLink / P2P inside it; no scale-out fabric to force."]
    lines = [f"# Fabric {fab['name']} ({fab['kind']}, {fab['rails']} rail(s) per node): force NCCL's transport, "
             "as RA:X measured it.", *(f"export {k}={shlex.quote(v)}" for k, v in env.items()),
             "# IFNAME: the interface of the cluster network (bootstrap; data too over TCP), e.g. IFNAME=ib0",
             'if [ -n "${IFNAME:-}" ]; then export NCCL_SOCKET_IFNAME="=$IFNAME" GLOO_SOCKET_IFNAME="$IFNAME"; fi']
    if fab["kind"] == "roce":
        lines.append("# RoCE: NCCL_IB_GID_INDEX selects the RoCEv2 GID (see show_gids), e.g. export NCCL_IB_GID_INDEX=3")
    if fab["kind"] != "tcp":
        lines.append(f"# NCCL uses every active HCA; the plan assumed {fab['rails']} per node (ibv_devinfo)")
    return lines


def _framework_lines(block: dict) -> list[str]:
    """Bash: pick the framework's command into ENTRY (and its environment)."""
    names = frameworks(block)
    lines = [f'FRAMEWORK="${{FRAMEWORK:-{names[0]}}}"', 'case "$FRAMEWORK" in']
    for name in names:
        body = []
        if name == "megatron":
            body.append("MEGATRON_ARGS=($(grep -v '^#' \"$HERE/megatron-args.txt\"))")
            if fw.megatron_needs_serial_connections(block):
                body.append("export CUDA_DEVICE_MAX_CONNECTIONS=1  # Megatron-LM asserts it for TP/CP before Blackwell")
        body.append(f"ENTRY=({' '.join(entry_args(name))})")
        lines += [f"  {name})", *(f"    {b}" for b in body), "    ;;"]
    lines += ['  *) echo "FRAMEWORK must be one of: ' + " ".join(names) + '" >&2; exit 2;;', "esac"]
    return lines


def _summary(block: dict) -> str:
    fab = block.get("fabric")
    net = f"{fab['name']} x {fab['rails']}" if fab else "one node"
    lay = block.get("layout") or block.get("serving") or {}
    shown = ", ".join(f"{k} {v}" for k, v in lay.items() if k in ("tp", "pp", "dp", "vpp", "cp", "ep", "zero",
                                                                  "micro_batch", "global_batch", "recompute",
                                                                  "replicas", "max_num_seqs"))
    return (f"{block['workload']} on {block['nodes']} x {block['server']} ({block['gpus']} x {block['accelerator']}), "
            f"{net}, {block['precision']}; {shown}")


def sbatch_script(block: dict) -> str:
    """The Slurm batch script: one torchrun per node through srun, rendezvous on the first node."""
    n, g = hosts(block)
    tr = torchrun_args(block, '"$HEAD:' + str(C10D_PORT) + '"', '"rax-$SLURM_JOB_ID"')
    if n > 1:
        tr[tr.index("--nnodes") + 1] = '"$SLURM_JOB_NUM_NODES"'
    lines = ["#!/bin/bash", f"# Written by {block['source']} ({block['label']}).", f"# {_summary(block)}",
             "# Submit from the folder that holds these files: FRAMEWORK=megatron|torchtitan|deepspeed sbatch "
             "[--partition P --time T --account A] train.sbatch",
             f"#SBATCH --job-name=rax-{_slug(block['workload'])}", f"#SBATCH --nodes={n}", "#SBATCH --ntasks-per-node=1",
             f"#SBATCH --gpus-per-node={g}", "#SBATCH --exclusive", "#SBATCH --output=rax-train-%j.out",
             "set -euo pipefail", 'HERE="${SLURM_SUBMIT_DIR:-$PWD}"  # Slurm runs a copy of the script', "",
             *_env_lines(block), "", *_framework_lines(block), "",
             "# Rendezvous (c10d) on the first node of the allocation; its name must resolve on every node.",
             'HEAD=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
             'srun --nodes="$SLURM_JOB_NUM_NODES" --ntasks-per-node=1 --kill-on-bad-exit=1 \\',
             "    " + " ".join(tr) + ' "${ENTRY[@]}"']
    return "\n".join(lines) + "\n"


def torchrun_script(block: dict) -> str:
    """The same launch without Slurm: run it on every node with RDZV_HOST = the first node's address."""
    tr = torchrun_args(block, '"$RDZV_HOST:' + str(C10D_PORT) + '"', '"${RDZV_ID:-rax-' + _slug(block["workload"]) + '}"')
    n = hosts(block)[0]
    usage = ("RDZV_HOST=<first node's address> FRAMEWORK=megatron|torchtitan|deepspeed bash torchrun.sh  "
             f"(on each of the {n} nodes)") if n > 1 else \
        "FRAMEWORK=megatron|torchtitan|deepspeed bash torchrun.sh"
    lines = ["#!/bin/bash", f"# Written by {block['source']} ({block['label']}).", f"# {_summary(block)}",
             f"# Run: {usage}", "set -euo pipefail", 'HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"']
    if n > 1:
        lines.append(': "${RDZV_HOST:?set RDZV_HOST to the address of the first node}"')
    lines += ["", *_env_lines(block), "", *_framework_lines(block), "", " ".join(tr) + ' "${ENTRY[@]}"']
    return "\n".join(lines) + "\n"


def fabric_check(block: dict) -> list[str]:
    """RA:X's own launcher on the same nodes and transport: measure the fabric before the job."""
    fab = block.get("fabric")
    arm = fab["arm"] if fab else "nccl"
    n, g = hosts(block)
    return ["rax", "launch", "--slurm", "--nnodes", str(n), "--nproc-per-node",
            str(g), "--transport", arm, "--out", "rax-fabric-check.sbatch", "--",
            "rax", "bench", "comm", "--collectives", "all_reduce,all_gather,reduce_scatter", "--dtypes", "bf16",
            "-e", "1G"]


def fabric_check_script(block: dict) -> str:
    argv = fabric_check(block)
    return "\n".join(["#!/bin/bash", "# Before the training job: measure the collectives of the fabric the plan assumed, "
                      "with RA:X, on the same nodes and transport.",
                      "# `rax launch --slurm` writes rax-fabric-check.sbatch (checked with bash -n); submit it, then",
                      "# compare with the plan: rax accept PLAN.json --run <the stored run>.", "set -euo pipefail",
                      " ".join(shlex.quote(a) for a in argv), "sbatch rax-fabric-check.sbatch"]) + "\n"


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in str(text))[:40] or "job"


def render(block: dict) -> dict[str, str]:
    """Every artefact of the block, by file name (README.md first)."""
    if block["task"] == "infer":
        files = {"vllm.sh": fw.vllm_script(block), "sglang.sh": fw.sglang_script(block)}
    else:
        files = {"train.sbatch": sbatch_script(block), "torchrun.sh": torchrun_script(block)}
        if block.get("model"):
            files.update({"megatron-args.txt": fw.megatron_text(block), "torchtitan.toml": fw.torchtitan_toml(block)})
        files["deepspeed.json"] = json.dumps(fw.deepspeed_config(block), indent=2) + "\n"
        if block["nodes"] > 1:
            files["fabric-check.sh"] = fabric_check_script(block)
    return {"README.md": readme(block, list(files)), **files}


def readme(block: dict, names: list[str]) -> str:
    about = {"train.sbatch": "Slurm batch script: srun one torchrun per node; FRAMEWORK picks the framework",
             "torchrun.sh": "the same torchrun for clusters without Slurm (run on every node)",
             "megatron-args.txt": "Megatron-LM / Megatron-Core arguments (parallelism, batch, recompute, precision, "
                                  "model shape); add your data, tokenizer and optimizer flags (DATA_ARGS)",
             "torchtitan.toml": "torchtitan 0.2 job config ([parallelism], [training], [activation_checkpoint], "
                                "float8); add [model] name/flavor and your dataset",
             "deepspeed.json": "DeepSpeed config (ZeRO stage, micro-batch, accumulation, buckets, bf16/fp16)",
             "fabric-check.sh": "RA:X's `rax launch` of `rax bench comm` on the same nodes and transport: run first",
             "vllm.sh": "vLLM engines, one per replica, on this node's GPUs",
             "sglang.sh": "SGLang servers, one per replica, on this node's GPUs"}
    lines = [f"# Launch files from {block['source']}", "", _summary(block) + ".", "",
             f"Every setting here is **{block['label']}**. The projected numbers and their error band are in the "
             f"output of `{block['source']}` (inference: no validated band, N/A).", "", "| file | what |", "|---|---|",
             *(f"| `{n}` | {about[n]} |" for n in names), ""]
    lines += [f"- {n}" for n in fw.notes(block)]
    if block["task"] != "infer" and block["nodes"] > 1:
        lines.append("- A bare torchrun's c10d store (on the first node) listens on every interface (torch's TCPStore); "
                     "`rax launch` binds its own to the rendezvous address, plain torchrun cannot.")
    return "\n".join(lines) + "\n"


def write(block: dict, directory: str) -> list[str]:
    """Write every artefact into `directory` (created); returns the paths written."""
    from pathlib import Path

    root = Path(directory)
    paths = []
    for name, text in render(block).items():
        path = root / name
        _write_text(path, text, executable=name.endswith((".sh", ".sbatch")))
        paths.append(str(path))
    return paths


def _write_text(path, text: str, *, executable: bool = False) -> None:
    """The one place artefacts reach the disk: rel-io's atomic writer (raxlab/outfile.py)."""
    from raxlab.errors import RaxError
    from raxlab.outfile import write_file

    written = write_file(path, text, field="--artefacts")
    if executable:
        try:
            written.chmod(0o755)
        except OSError as e:
            raise RaxError(f"cannot make {written} executable: {e.strerror or e}", field="--artefacts") from None
