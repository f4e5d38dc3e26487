"""How to reproduce: the commands behind every run, the versions, where the data is."""

from __future__ import annotations

import shlex

from raxlab import __version__
from raxlab.report.doc import Code, Para, Section, kv_table
from raxlab.report.model import COMM_KIND, PIPELINE_KIND, ReportData
from raxlab.report.sections.common import host_fp


def _q(v) -> str:
    """A shell-safe argument; lists as comma lists, floats without float noise."""
    if isinstance(v, (list, tuple)):
        v = ",".join(_plain(x) for x in v)
    return shlex.quote(_plain(v))


def _plain(v) -> str:
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def _wl(run: dict) -> str:
    """The workload argument: a proxy run was asked for by the workload's own name."""
    return _q(str(run.get("workload") or "WORKLOAD").removesuffix("@proxy"))


def _compute(run: dict, p: dict) -> str:
    cmd = [f"rax bench compute {_wl(run)}", f"--device {_q(p.get('device', 'auto'))}"]
    for flag, key in (("--precision", "precisions"), ("--micro-batch", "batches"), ("--modes", "modes"),
                      ("--point-seconds", "point_seconds"), ("--max-seconds", "max_seconds")):
        if p.get(key) is not None:
            cmd.append(f"{flag} {_q(p[key])}")
    if not (run["artifacts"].get("peaks") or {}).get("measured"):
        cmd.append("--no-gemm-probe")
    return " ".join(cmd)


def _comm(p: dict) -> str:
    cmd = ["rax bench comm", f"--ranks {_q(p.get('ranks', 2))}", f"--transport {_q(p.get('transport', 'gloo'))}"]
    for flag, key in (("--collectives", "collectives"), ("--dtypes", "dtypes"), ("-b", "min_bytes"), ("-e", "max_bytes"),
                      ("-f", "step_factor"), ("--iters", "iters"), ("--warmup", "warmup"), ("--emulate", "emulate")):
        if p.get(key) is not None:
            cmd.append(f"{flag} {_q(p[key])}")
    return " ".join(cmd)


def _abtest(run: dict, p: dict) -> str:
    """`rax abtest` with its arms, design and step flags as stored (measure/abtest.py params)."""
    d = p.get("design") or {}
    cmd = [f"rax abtest {_q(p.get('workload') or run.get('workload') or 'WORKLOAD')}"]
    for arm in p.get("arms") or []:
        cmd.append(f"--arm {_q(arm['name'] + '=' + arm['spec'])}")
        if str(arm.get("price_basis") or "").startswith("declared"):
            cmd.append(f"--arm-price {_q(arm['name'] + '=' + _plain(float(arm['price_usd'])))}")
        elif arm.get("fabric"):
            cmd.append(f"--arm-fabric {_q(arm['name'] + '=' + arm['fabric'])}")
    design = (("--reps", d.get("max_reps", d.get("reps"))), ("--min-reps", d.get("min_reps")),
              ("--max-minutes", d.get("max_minutes")), ("--steps", d.get("steps_per_rep")),
              ("--rep-warmup", d.get("rep_warmup")), ("--threshold", d.get("threshold")), ("--alpha", d.get("alpha")),
              ("--spending", d.get("spending")), ("--horizon-years", d.get("horizon_years")),
              ("--node-price", d.get("node_price_usd")))
    step = (("--ranks", p.get("ranks")), ("--micro-batch", p.get("batch")), ("--precision", p.get("precision")),
            ("--optimizer", p.get("optimizer")), ("--bucket-mb", p.get("bucket_mb")), ("--warmup", p.get("warmup")),
            ("--timeout", p.get("timeout_s")), ("--seed", p.get("seed")))
    cmd += [f"{flag} {_q(v)}" for flag, v in design + step if v is not None]
    cmd += [flag for flag, on in (("--fsdp", p.get("fsdp")), ("--trust-code", p.get("trust_code")),
                                  ("--no-split", p.get("split") is False)) if on]
    return " ".join(cmd)


def command(run: dict) -> str:
    """The command line that makes a run like this one (stored argv when the run has it)."""
    p = run.get("params") or {}
    argv = p.get("argv")
    if isinstance(argv, list) and argv:
        return " ".join(_q(a) for a in argv)
    kind = run["kind"]
    if kind == "compute":
        return _compute(run, p)
    if kind == COMM_KIND:
        return _comm(p)
    if kind == "kernels":
        prec = f" --precision {_q(p['precisions'])}" if p.get("precisions") else ""
        return f"rax bench kernels --device {_q(p.get('device', 'auto'))}{prec} --point-seconds {_q(p.get('max_seconds', 3))}"
    if kind == "io":
        workers = p.get("workers") or [0]
        return (f"rax bench io {_wl(run)} --micro-batch {_q(p.get('batch', 1))} --max-workers {_q(max(workers))} "
                f"--point-seconds {_q(p.get('seconds', 3))}")
    if kind == PIPELINE_KIND:
        return _pipeline(run, p)
    if kind == "abtest":
        return _abtest(run, p)
    wl = f" {_wl(run)}" if run.get("workload") else ""
    return f"rax {kind.replace('.', ' ')}{wl}  # its parameters: rax runs show {run['id']} --json"


def _pipeline(run: dict, p: dict) -> str:
    """`rax run` with the options it was given (raxlab/pipeline.py RunOptions)."""
    cmd = [f"rax run {_wl(run)}"]
    cmd += [flag for flag, key in (("--quick", "quick"), ("--no-comm", "no_comm"), ("--trust-code", "trust_code"))
            if p.get(key)]
    for flag, key in (("--skip", "skip"), ("--max-minutes", "max_minutes"), ("--catalog-override", "catalog_override")):
        if p.get(key):
            cmd.append(f"{flag} {_q(p[key])}")
    return " ".join(cmd)


def build(data: ReportData) -> Section:
    sec = Section("reproduce", "How to reproduce")
    runs = [data.root, *data.children()]
    lines = [f"# {'pipeline' if r['kind'] == PIPELINE_KIND else r['kind']} run {r['id']} ({r['status']}, "
             f"{r['created_at'][:16].replace('T', ' ')} UTC)\n{command(r)}" for r in runs]
    if data.plan is not None:
        ids = [r["id"] for r in runs if r["kind"] in ("compute", COMM_KIND, "abtest")]
        lines.append(f"# the purchase plan (from the measured runs)\nrax plan {_wl(data.root)} "
                     + " ".join(f"--run {i}" for i in ids) + " --json")
    lines.append(f"# this report\nrax report {data.root['id']} --format html")
    sec.add(Para("Run these on the same kind of machine (see the fingerprints). Each run's full parameters and "
                 "workload spec are stored with it: `rax runs show RUN --json`."), Code("\n\n".join(lines)))
    fp = host_fp(data.root) or next((f for _, _, f in data.fingerprints()), {}) or {}
    sec.add(kv_table([("raxlab (report made with)", __version__), ("torch (measured with)", str(fp.get("torch", "N/A"))),
                      ("python", str(fp.get("python", "N/A"))), ("numpy", str(fp.get("numpy", "N/A"))),
                      ("OS", str(fp.get("os", "N/A"))), ("results store", data.store_path),
                      ("runs in this report", ", ".join(r["id"] for r in runs))], caption="Versions and data."))
    return sec
