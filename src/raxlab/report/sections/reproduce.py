"""How to reproduce: the commands behind every run, the versions, where the data is."""

from __future__ import annotations

import shlex

from raxlab import __version__
from raxlab.report.doc import Code, Para, Section, kv_table
from raxlab.report.model import COMM_KIND, PIPELINE_KIND, ReportData
from raxlab.report.sections.common import host_fp


def _q(v) -> str:
    return shlex.quote(str(v))


def _join(v) -> str:
    return ",".join(str(x) for x in v) if isinstance(v, (list, tuple)) else str(v)


def _compute(run: dict, p: dict) -> str:
    cmd = [f"rax bench compute {_q(run['workload'])}", f"--device {_q(p.get('device', 'auto'))}"]
    for flag, key in (("--precisions", "precisions"), ("--batch-sizes", "batches"), ("--modes", "modes"),
                      ("--point-seconds", "point_seconds"), ("--max-seconds", "max_seconds")):
        if p.get(key) is not None:
            cmd.append(f"{flag} {_q(_join(p[key]))}")
    if not (run["artifacts"].get("peaks") or {}).get("measured"):
        cmd.append("--no-gemm-probe")
    return " ".join(cmd)


def _comm(p: dict) -> str:
    cmd = ["rax bench comm", f"--ranks {_q(p.get('ranks', 2))}", f"--transport {_q(p.get('transport', 'gloo'))}"]
    for flag, key in (("--collectives", "collectives"), ("--dtypes", "dtypes"), ("-b", "min_bytes"), ("-e", "max_bytes"),
                      ("-f", "step_factor"), ("--iters", "iters"), ("--warmup", "warmup"), ("--emulate", "emulate")):
        if p.get(key) is not None:
            cmd.append(f"{flag} {_q(_join(p[key]))}")
    return " ".join(cmd)


def command(run: dict) -> str:
    """The command line that makes a run like this one (stored argv when the run has it)."""
    p = run.get("params") or {}
    argv = p.get("argv")
    if isinstance(argv, list) and argv:
        return " ".join(_q(a) for a in argv)
    kind, wl = run["kind"], run.get("workload")
    if kind == "compute":
        return _compute(run, p)
    if kind == COMM_KIND:
        return _comm(p)
    if kind == "kernels":
        prec = f" --precisions {_q(p['precisions'])}" if p.get("precisions") else ""
        return f"rax bench kernels --device {_q(p.get('device', 'auto'))}{prec} --max-seconds {_q(p.get('max_seconds', 3))}"
    if kind == "io":
        workers = p.get("workers") or [0]
        return (f"rax bench io {_q(wl)} --batch {_q(p.get('batch', 1))} --max-workers {_q(max(workers))} "
                f"--seconds {_q(p.get('seconds', 3))}")
    if kind == PIPELINE_KIND:
        return f"rax run {_q(wl)}" if wl else "rax run"
    return f"rax {kind.replace('.', ' ')} {_q(wl) if wl else ''}  # parameters: rax runs show {run['id']} --json".strip()


def build(data: ReportData) -> Section:
    sec = Section("reproduce", "How to reproduce")
    runs = [data.root, *data.children()]
    lines = [f"# {r['kind']} run {r['id']} ({r['status']}, {r['created_at']})\n{command(r)}" for r in runs]
    if data.plan is not None:
        lines.append(f"# the purchase plan\nrax plan {_q(data.workload or 'WORKLOAD')} --run {data.root['id']} --json")
    lines.append(f"# this report\nrax report {data.root['id']} --format html")
    sec.add(Para("Run these on the same kind of machine (see the fingerprints). Each run's full parameters and "
                 "workload spec are stored with it: `rax runs show RUN --json`."), Code("\n\n".join(lines)))
    fp = host_fp(data.root) or next((f for _, _, f in data.fingerprints()), {}) or {}
    sec.add(kv_table([("raxlab (report made with)", __version__), ("torch (measured with)", str(fp.get("torch", "N/A"))),
                      ("python", str(fp.get("python", "N/A"))), ("numpy", str(fp.get("numpy", "N/A"))),
                      ("OS", str(fp.get("os", "N/A"))), ("results store", data.store_path),
                      ("runs in this report", ", ".join(r["id"] for r in runs))], caption="Versions and data."))
    return sec
