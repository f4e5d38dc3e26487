"""`make gpu-check`: every CUDA/NCCL path of RA:X on one GPU host, in about five minutes.

    python -m raxlab.measure.gpu_check [--out out/gpu-check.json] [--list]

Runs the real commands (`rax bench compute|kernels|comm|ddp`, `rax report`) in a scratch store
and judges their JSON: the compute step per precision (fp8 where the GPU has it: the step needs
Transformer Engine layers, the fp8 GEMM is measured TE-free with torch._scaled_mm), the kernel
ceilings (GEMM per dtype, HBM bandwidth, host<->device copies, pinned and pageable), NCCL
collectives on all local GPUs with the transport proven from each rank's NCCL_DEBUG log, NCCL
forced onto sockets through namespaces (root), DDP on 1 and on all GPUs, FSDP on all GPUs, and
a report from the GPU runs. Prints a pass/fail table and writes it as JSON. Without a CUDA GPU
it lists what it would run and exits 0; otherwise the exit code is 1 when a check failed.

Each judge checks what only a GPU can get wrong: the point ran on the GPU (not silently on CPU),
the precisions the compute capability allows ran and the others say why not, no measured rate
exceeds the catalogue's peak for the device (a broken timer or sync shows up as that), results
of every collective are exact, and the transport NCCL logged is the one asked for.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from raxlab.measure.device import precision_problem

PRECISIONS = ("fp32", "tf32", "bf16", "fp16", "fp8")
BUDGET_S = 330.0  # about five minutes: later checks are reported as not run past it
OVER_PEAK = 1.15  # a measured rate above 115 % of the catalogue peak is a timing bug, not a fast GPU


@dataclass
class Host:
    """What the check needs to know about this machine (from torch and /sys)."""

    gpus: int
    name: str | None = None
    capability: tuple[int, int] | None = None
    torch: str = "?"
    cuda: str | None = None
    nccl: str | None = None
    root: bool = False
    te: bool = False  # Transformer Engine importable (fp8 training steps)
    peaks: dict = field(default_factory=dict)  # catalogue dense peak FLOP/s per precision, if known
    mem_bw_Bps: float | None = None  # catalogue HBM bandwidth, if known

    @property
    def cc(self) -> str:
        return ".".join(map(str, self.capability)) if self.capability else "?"


@dataclass
class Check:
    name: str
    argv: list[str]  # arguments of `rax`
    judge: Callable[[dict, "Host"], list[str]]  # the problems found in the command's JSON ([] = pass)
    timeout_s: float
    skip: str | None = None  # why it does not run here
    keep: str | None = None  # a key of the JSON later checks use (e.g. the compute run id)


@dataclass
class Outcome:
    name: str
    status: str  # pass | fail | skip
    seconds: float
    detail: str
    command: str


def expected(precision: str, host: Host) -> str:
    """'ok' or 'unsupported' for a compute step of `precision` on this GPU."""
    if precision_problem(precision, host.capability):
        return "unsupported"
    if precision == "fp8" and not host.te:
        return "unsupported"  # a training step needs TE layers; the GEMM check covers fp8 itself
    return "ok"


# -- judges: pure functions of a command's JSON (unit-tested on CPU with synthetic outputs) -----

def judge_compute(out: dict, host: Host) -> list[str]:
    bad = [] if str(out.get("device", "")).startswith("cuda") else [f"ran on {out.get('device')}, not the GPU"]
    for p in out.get("points") or []:
        want, got, what = expected(p["precision"], host), p["status"], f"{p['mode']}/{p['precision']}/b{p['batch']}"
        if got == "inconsistent" and want == "ok":
            continue  # re-measured and marked by the sweep itself; its re-measure is judged too
        if got != want:
            bad.append(f"{what}: {got} (expected {want}): {p.get('note') or ''}".strip())
        elif got == "ok":
            bad += _rate_problems(what, p.get("achieved_flops"), host.peaks.get(p["precision"]), "FLOP/s")
            if not p.get("loss_finite", True):
                bad.append(f"{what}: non-finite loss")
    return bad


def judge_kernels(out: dict, host: Host) -> list[str]:
    bad = [] if str(out.get("device", "")).startswith("cuda") else [f"ran on {out.get('device')}, not the GPU"]
    for p in out.get("points") or []:
        name = p["name"]
        prec = name.split("/")[1] if name.startswith("gemm/") else None
        want = "unsupported" if prec and precision_problem(prec, host.capability) else "ok"
        if p["status"] != want:
            bad.append(f"{name}: {p['status']} (expected {want}): {p.get('error') or ''}".strip())
        elif want == "ok" and prec:
            bad += _rate_problems(name, (p.get("tflops") or 0) * 1e12, host.peaks.get(prec), "FLOP/s")
        elif want == "ok" and name.startswith("stream"):
            bad += _rate_problems(name, (p.get("gbps") or 0) * 1e9, host.mem_bw_Bps, "B/s")
    return bad


def judge_comm(out: dict, host: Host, kinds: tuple[str, ...] | None = None) -> list[str]:
    rows, transport = out.get("rows") or [], out.get("transport") or {}
    bad = [f"{r['collective']} {r['size_bytes']} B: {r['wrong']} wrong elements" for r in rows
           if r.get("correct") is False]
    if out.get("status") != "complete":
        bad.append(f"run {out.get('status')}: {out.get('error')}")
    if not rows:
        bad.append("no collective was measured")
    ranks = int((out.get("params") or {}).get("ranks") or 0)
    if len(transport) < ranks:
        bad.append(f"transport verified for {len(transport)} of {ranks} ranks (NCCL_DEBUG log missing?)")
    for rank, info in sorted(transport.items()):
        if not info.get("version"):
            bad.append(f"rank {rank}: no NCCL version in its log")
        if kinds and info.get("kind") not in kinds:
            bad.append(f"rank {rank}: transport {info.get('kind')}, expected {' or '.join(kinds)}")
    return bad


def judge_socket(out: dict, host: Host) -> list[str]:
    return judge_comm(out, host, kinds=("tcp",))


def judge_ddp(out: dict, host: Host) -> list[str]:
    d, bad = out.get("derived") or {}, []
    if out.get("status") != "complete":
        bad.append(f"run {out.get('status')}: {out.get('error')}")
    if not str((out.get("setup") or {}).get("device", "")).startswith("cuda"):
        bad.append(f"the step ran on {(out.get('setup') or {}).get('device')}, not a GPU")
    if not (d.get("step") or {}).get("median"):
        bad.append("no synced step was timed")
    if d.get("loss_finite") is False:
        bad.append("non-finite loss")
    ranks = int((out.get("params") or {}).get("ranks") or 0)
    if len(out.get("transport") or {}) < 1 and ranks > 1:
        bad.append("no rank's NCCL transport was verified")
    eff = d.get("scaling_efficiency")
    if eff is not None and not 0 < eff <= 1.5:
        bad.append(f"scaling efficiency {eff:.2f} is not physical (a timing or sync bug)")
    return bad


def judge_report(out: dict, host: Host) -> list[str]:
    path = Path(out.get("path") or "")
    if not path.is_file():
        return [f"no report file at {path}"]
    text = path.read_text(errors="replace")
    bad = [] if len(text) > 10_000 else [f"report is only {len(text)} bytes"]
    if host.name and host.name not in text:
        bad.append(f"the report does not name the GPU ({host.name})")
    return bad


def _rate_problems(what: str, rate: float | None, peak: float | None, unit: str) -> list[str]:
    if not rate or rate <= 0:
        return [f"{what}: no {unit} rate recorded"]
    if peak and rate > OVER_PEAK * peak:
        return [f"{what}: {rate:.4g} {unit} is {rate / peak:.0%} of the catalogue peak {peak:.4g}: the timer "
                "or a missing synchronize is wrong"]
    return []


# -- the plan -------------------------------------------------------------------------------

def plan(host: Host, store: str, out_dir: str) -> list[Check]:
    """Every check for this host, in order; the ones that cannot run here say why."""
    s = ["--store", store, "--json"]
    n = max(1, min(host.gpus, 8))
    all_colls = "all_reduce,all_gather,reduce_scatter,broadcast,all_to_all" + (",send_recv" if n > 1 else "")
    no_gpu = None if host.gpus else "no CUDA GPU"
    socket_skip = no_gpu or (None if host.root else "needs root (network namespaces keep NCCL off P2P/SHM)") or \
        (None if host.gpus >= 2 else "needs 2 GPUs")
    checks = [
        Check("compute step per precision (train + infer)",
              ["bench", "compute", "tiny-lm", "--device", "cuda", "--precisions", ",".join(PRECISIONS),
               "--batch-sizes", "1,8", "--point-seconds", "1", "--max-seconds", "90", "--recheck-seconds", "15",
               "--no-gemm-probe", *s],  # the kernels check measures the GEMM ceilings
              judge_compute, 240, no_gpu, keep="run_id"),
        Check("kernels: GEMM per dtype, HBM bandwidth, host<->device",
              ["bench", "kernels", "--device", "cuda", "--precisions", ",".join(PRECISIONS), "--max-seconds", "1", *s],
              judge_kernels, 240, no_gpu),
        Check(f"NCCL collectives on {n} GPU(s), transport from the logs",
              ["bench", "comm", "--transport", "nccl", "--ranks", str(n), "--collectives", all_colls,
               "--dtypes", "fp32,bf16", "-b", "1M", "-e", "64M", "-f", "8", "--iters", "5", "--warmup", "2", *s],
              judge_comm, 180, no_gpu),
        Check("NCCL forced onto sockets (NCCL_NET=Socket, 2 namespaces)",
              ["bench", "comm", "--transport", "nccl-socket", "--ranks", "2", "--emulate", "unshaped",
               "--collectives", "all_reduce", "-b", "1M", "-e", "16M", "--iters", "5", *s],
              judge_socket, 180, socket_skip),
        Check("DDP step on 1 GPU", ["bench", "ddp", "tiny-lm", "--transport", "nccl", "--ranks", "1", "--steps", "3",
                                    "--warmup", "1", *s], judge_ddp, 180, no_gpu),
        Check(f"DDP step on every local GPU ({n})", ["bench", "ddp", "tiny-lm", "--transport", "nccl", "--ranks", str(n),
                                        "--steps", "3", "--warmup", "1", *s], judge_ddp, 180,
              no_gpu or (None if n > 1 else "needs 2 GPUs")),
        Check(f"FSDP step on {n} GPU(s)", ["bench", "ddp", "tiny-lm", "--transport", "nccl", "--ranks", str(n),
                                           "--fsdp", "--steps", "3", "--warmup", "1", *s], judge_ddp, 180, no_gpu),
        Check("report from the GPU compute run", ["report", "{run_id}", "--out", f"{out_dir}/gpu-report.html",
                                                  "--store", store, "--json"], judge_report, 120, no_gpu),
    ]
    return checks


# -- running --------------------------------------------------------------------------------

def run_check(check: Check, host: Host, kept: dict, deadline: float) -> Outcome:
    argv = [a.format(**kept) if "{" in a else a for a in check.argv]
    line = "rax " + " ".join(argv)
    if check.skip:
        return Outcome(check.name, "skip", 0.0, check.skip, line)
    if any("{" in a for a in argv):
        return Outcome(check.name, "fail", 0.0, "an earlier check it builds on failed", line)
    left = deadline - time.monotonic()
    if left <= 5:
        return Outcome(check.name, "fail", 0.0, f"not run: the {BUDGET_S:g} s budget was spent", line)
    t0 = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-m", "raxlab", *argv], capture_output=True, text=True,
                              timeout=min(check.timeout_s, left))
    except subprocess.TimeoutExpired:
        return Outcome(check.name, "fail", time.monotonic() - t0, f"timed out after {min(check.timeout_s, left):.0f} s",
                       line)
    took = time.monotonic() - t0
    try:
        out = json.loads(proc.stdout)
    except ValueError:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return Outcome(check.name, "fail", took, f"exit {proc.returncode}, no JSON: {tail}", line)
    if check.keep and out.get(check.keep):
        kept[check.keep] = out[check.keep]
    problems = check.judge(out, host) + ([f"exit code {proc.returncode}"] if proc.returncode else [])
    return Outcome(check.name, "fail" if problems else "pass", took, "; ".join(problems)[:600] or _summary(out), line)


def _summary(out: dict) -> str:
    if out.get("points"):
        ok = sum(p.get("status") == "ok" for p in out["points"])
        return f"{ok} of {len(out['points'])} points ok (the others as expected for this GPU)"
    if out.get("rows"):
        kinds = sorted({i.get("kind", "?") for i in (out.get("transport") or {}).values()})
        return f"{len(out['rows'])} sizes exact; transport {', '.join(kinds)}"
    if out.get("derived"):
        step = (out["derived"].get("step") or {}).get("median")
        return f"step {step * 1e3:.3g} ms" if step else "complete"
    return str(out.get("path") or "ok")


def probe_host() -> Host:
    import torch

    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    host = Host(gpus=gpus, torch=torch.__version__, cuda=torch.version.cuda, root=os.geteuid() == 0)
    if not gpus:
        return host
    host.name, host.capability = torch.cuda.get_device_name(0), tuple(torch.cuda.get_device_capability(0))
    host.nccl = ".".join(map(str, torch.cuda.nccl.version()))
    try:
        import transformer_engine.pytorch  # noqa: F401
        host.te = True
    except ImportError:
        pass
    _catalogue_peaks(host)
    return host


def _catalogue_peaks(host: Host) -> None:
    from raxlab.catalog import load_catalog
    from raxlab.errors import RaxError

    acc = load_catalog().match_device(host.name or "")
    if acc is None:
        return
    for prec in PRECISIONS:
        try:
            host.peaks[prec] = acc.peak_flops(prec)
        except RaxError:
            continue
    host.mem_bw_Bps = acc.mem_bw_Bps


def _table(host: Host, outcomes: list[Outcome]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"RA:X GPU check: {host.gpus} x {host.name} (cc {host.cc}), torch {host.torch}, CUDA {host.cuda}, "
                    f"NCCL {host.nccl}")
    for col in ("check", "result", "s", "detail"):
        t.add_column(col)
    for o in outcomes:
        t.add_row(o.name, o.status.upper() if o.status == "fail" else o.status, f"{o.seconds:.0f}", o.detail)
    Console(width=200).print(t)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m raxlab.measure.gpu_check", description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out/gpu-check.json", help="JSON of the table (default out/gpu-check.json)")
    ap.add_argument("--list", action="store_true", help="only list the checks and their commands")
    args = ap.parse_args(argv)
    host = probe_host()
    if args.list or not host.gpus:
        why = "" if host.gpus else (f"no CUDA GPU visible to torch {host.torch} (CUDA build: {host.cuda or 'none'}); "
                                    "on a GPU host `make gpu-check` installs a CUDA torch and runs (N = its GPUs, "
                                    "up to 8):\n")
        checks = plan(host, "STORE", "OUT")
        print(why + "\n".join(f"  {c.name}\n      rax {' '.join(c.argv)}" for c in checks))
        return 0
    work = tempfile.mkdtemp(prefix="rax-gpu-check-")
    checks = plan(host, f"{work}/gpu-check.db", work)
    deadline, kept, outcomes = time.monotonic() + BUDGET_S, {}, []
    for c in checks:
        outcomes.append(run_check(c, host, kept, deadline))
        o = outcomes[-1]
        print(f"[{o.status}] {o.name} ({o.seconds:.0f} s)", file=sys.stderr, flush=True)
    _table(host, outcomes)
    from raxlab.outfile import write_file

    write_file(args.out, json.dumps({"host": asdict(host), "checks": [asdict(o) for o in outcomes],
                                     "store": f"{work}/gpu-check.db"}, indent=2), field="--out")
    print(f"table written to {args.out}; runs kept in {work}/gpu-check.db")
    return 1 if any(o.status == "fail" for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
