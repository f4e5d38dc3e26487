"""A real quick pipeline run, made once per session: the benches really run (tiny settings),
the planner really plans, and a run of kind "run" links them the way `rax run` does
(artifact "stages" -> child run ids; artifacts "card" and "plan" on the pipeline run).

Two lanes run side by side (2 cores): compute -> plan, and comm -> kernels -> io. About a
minute on an idle 2-core host (each bench point starts a fresh child process, which is most
of it); two to three when other suites share the cores.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

import pytest

WORKLOAD = "llm-1b-pretrain"  # the default workload of `rax run` (measured through its proxy)
LANE_TIMEOUT_S = 300


@dataclass
class Pipeline:
    store: str
    run_id: str
    children: dict[str, str]
    plan: dict | None


def _rax(store: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "RAX_STORE": store, "COLUMNS": "160"}
    proc = subprocess.run([sys.executable, "-m", "raxlab", *args, "--store", store], env=env, capture_output=True,
                          text=True, timeout=LANE_TIMEOUT_S)
    if proc.returncode != 0:
        raise RuntimeError(f"rax {' '.join(args)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc


def _bench(store: str, *args: str) -> str:
    """Run a bench with --json; its stored run id (the lanes run at once, so 'latest' would race)."""
    return json.loads(_rax(store, "bench", *args, "--json").stdout)["run_id"]


def _compute(store: str) -> str:
    return _bench(store, "compute", WORKLOAD, "--precision", "fp32", "--micro-batch", "1,2", "--modes", "train",
                  "--point-seconds", "0.2", "--no-gemm-probe")


def _lane_a(store: str) -> tuple[dict, dict | None]:
    comp = _compute(store)
    return {"compute": comp}, _plan(store, comp)


def _plan(store: str, comp: str) -> dict | None:
    """The planner's JSON for the workload with this run's measurements (None before it exists)."""
    import importlib.util

    if importlib.util.find_spec("raxlab.cli.plan") is None:
        return None
    # Two GPU types keep the search short; the fabric comparison keeps every fabric.
    out = _rax(store, "plan", WORKLOAD, "--run", comp, "--accelerators", "h100-sxm,a100-sxm-80gb",
               "--max-nodes", "64", "--json")
    return json.loads(out.stdout)


def _lane_b(store: str) -> dict:
    comm = _bench(store, "comm", "--ranks", "2", "--transport", "gloo", "--collectives", "all_reduce,all_gather",
                  "-b", "1K", "-e", "256K", "-f", "4", "--iters", "6", "--warmup", "2")
    kernels = _bench(store, "kernels", "--precision", "fp32", "--point-seconds", "0.1")
    # io compares with the latest compute run of the workload, if lane A has stored one by then
    io = _bench(store, "io", WORKLOAD, "--max-workers", "0", "--seconds", "0.3")
    return {"comm": comm, "kernels": kernels, "io": io}


def assemble(store: str, children: dict[str, str], plan: dict | None) -> str:
    """The pipeline run as `rax run` stores it (raxlab/pipeline.py): stage records linking the
    child runs, the full model's card, the plan."""
    from raxlab.store import Store
    from raxlab.workload import load_workload
    from raxlab.workload.card import build_card

    st = Store(store)
    rid = st.new_run("run", workload=WORKLOAD, params={"argv": ["rax", "run", WORKLOAD, "--quick"]})
    stages = {"card": {"status": "ok", "run_id": None, "wall_s": 1.0, "error": None}}
    stages.update({k: {"status": "ok", "run_id": v, "wall_s": 10.0, "error": None} for k, v in children.items()})
    stages["ddp"] = {"status": "skipped", "run_id": None, "wall_s": 0.0, "error": "--no-comm"}
    stages["plan"] = {"status": "ok" if plan else "skipped", "run_id": None, "wall_s": 5.0, "error": None}
    st.put_artifact(rid, "stages", stages)
    st.put_artifact(rid, "card", build_card(load_workload(WORKLOAD)).to_dict())
    if plan is not None:
        st.put_artifact(rid, "plan", plan)
    st.finish_run(rid)
    return rid


# Set to a path to build the runs there once and reuse them in later sessions (for iterating
# on the report code); CI leaves it unset and every session measures afresh.
REUSE_ENV = "RAX_REPORT_TEST_STORE"


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory) -> Pipeline:
    reuse = os.environ.get(REUSE_ENV)
    if reuse and os.path.exists(reuse + ".json"):
        return Pipeline(**json.loads(open(reuse + ".json").read()))
    made = _build(reuse or str(tmp_path_factory.mktemp("report-pipeline") / "rax.db"))
    if reuse:
        with open(reuse + ".json", "w") as f:
            json.dump(made.__dict__, f)
    return made


def _build(store: str) -> Pipeline:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        a, b = pool.submit(_lane_a, store), pool.submit(_lane_b, store)
        (kids_a, plan), kids_b = a.result(), b.result()
    children = {**kids_a, **kids_b}
    return Pipeline(store, assemble(store, children, plan), children, plan)


def chromium_or_skip() -> str:
    from raxlab.report.pdf import find_chromium

    exe = find_chromium()
    if exe is None:
        pytest.skip("headless Chromium is not installed (scripts/ensure_chromium.sh installs it as root; "
                    "or apt-get install chromium)")
    return exe


def has_pdftotext() -> bool:
    return shutil.which("pdftotext") is not None
