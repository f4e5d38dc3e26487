"""`make soak`: repeated comm and DDP benchmarks over emulated links, watched for leaks.

    RAX_SOAK_MINUTES=10 python -m benchmarks.soak      # root: one rank per namespace, 1 gbit links

For the set time (`RAX_SOAK_MINUTES`, default 10) the parent runs, in this one process and
through the same library calls `rax bench comm` / `rax bench ddp` make, an all-reduce sweep
and a DDP training step of `tiny-lm`, alternately, over emulated links (`RAX_SOAK_RATE`,
default 1gbit; on loopback when not root, and it says so). Every fourth comm run has rank 1
SIGKILLed mid-sweep, so the failure path is soaked too. After each run it records:

  parent RSS, open file descriptors and threads (leaks in the long-lived process),
  live child processes, the run's namespaces still present, rax namespaces of dead owners,
  listening sockets held by the parent, and any listener of a rank on a wildcard address.

`RAX_SOAK_DDP_RUNS=N` runs N emulated DDP steps back to back instead (no comm runs, no time
limit) and counts how each ended: the figure for the end-of-rank SIGABRT of issue 20 (ranks now
end through `measure.comm.rank.teardown`). A run that fails is recorded with its one-line reason.

It then runs the heavier reliability checks at soak size: the fuzz targets with
`RAX_FUZZ_EXAMPLES` (default 1000) and `RAX_STORE_KILLS` (default 200) kill -9s of a store
writer. Prints a table of figures and a verdict per check; writes them as JSON to
`RAX_SOAK_OUT` (default out/soak.json). Not part of CI.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

MINUTES = float(os.environ.get("RAX_SOAK_MINUTES", 10))
DDP_RUNS = int(os.environ.get("RAX_SOAK_DDP_RUNS", 0))
RATE = os.environ.get("RAX_SOAK_RATE", "1gbit")
WARMUP_RUNS = 4  # imports, allocator pools and torch's caches settle in the first runs
RSS_GROWTH_MB = 40.0  # after warm-up: more than this over the soak is a leak
ROOT = Path(__file__).resolve().parents[1]


# -- what one run leaves behind ------------------------------------------------------------

def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _our_namespaces() -> list[str]:
    from raxlab.netemu import rax_namespaces

    return [n for n in rax_namespaces() if n.startswith(f"rax-{os.getpid()}-")]


def _dead_owner_namespaces() -> int:
    from raxlab.netemu import rax_namespaces
    from raxlab.netemu.cleanup import NS_RE, _alive

    return sum(not _alive(int(NS_RE.match(n).group(1))) for n in rax_namespaces())


def _own_listeners() -> int:
    from tests.reliability.sockets import listeners

    return len(listeners([os.getpid()]))


class RankSockets(threading.Thread):
    """Samples the listening sockets of our child processes while a run is up."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stop, self.seen = threading.Event(), set()

    def run(self) -> None:
        from tests.reliability.sockets import listeners

        me = psutil.Process()
        while not self.stop.is_set():
            kids = [c.pid for c in me.children(recursive=True)]
            self.seen |= {(h, p) for h, p, _ in listeners(kids)}
            time.sleep(0.5)


def _sample(kind: str, status: str, wall: float, sockets: set) -> dict:
    gc.collect()
    from tests.reliability.sockets import WILDCARDS

    me = psutil.Process()
    return {"kind": kind, "status": status, "wall_s": round(wall, 2),
            "rss_mb": round(me.memory_info().rss / 2**20, 1), "fds": _fds(), "threads": me.num_threads(),
            "children": len(me.children(recursive=True)), "our_namespaces": len(_our_namespaces()),
            "dead_owner_namespaces": _dead_owner_namespaces(), "parent_listeners": _own_listeners(),
            "rank_listeners": len(sockets), "wildcard_listeners": sum(h in WILDCARDS for h, _ in sockets)}


# -- the runs --------------------------------------------------------------------------------

def _kill_rank_1_after(rows: int):
    """on_event hook: SIGKILL rank 1 once `rows` sizes are stored (as the fault tests do)."""
    seen = {"rows": 0}

    def hook(ev):
        if ev.get("ev") == "row":
            seen["rows"] += 1
            if seen["rows"] == rows:
                for child in psutil.Process().children(recursive=True):
                    try:
                        if child.environ().get("RAX_LAUNCH") and child.environ().get("RANK") == "1":
                            os.kill(child.pid, signal.SIGKILL)
                    except psutil.Error:
                        continue
    return hook


def _comm(db: str, emulate: str | None, inject: bool) -> str:
    from raxlab.measure.comm.driver import run_comm
    from raxlab.measure.comm.launch import RankFailure
    from raxlab.measure.comm.options import SweepOptions

    sweep = SweepOptions(collectives="all_reduce", min_bytes=1024, max_bytes=8 * 2**20, iters=10, warmup=2,
                         timeout_s=60).validate()
    try:
        run_comm(sweep, ranks=2, emulate=emulate, ifname=None if emulate else "lo", store=db,
                 on_event=_kill_rank_1_after(3) if inject else None)
    except RankFailure as exc:
        return "rank killed (injected)" if inject and exc.status == "killed" else f"FAILED: {exc}"
    return "FAILED: the injected kill went unnoticed" if inject else "ok"


def _ddp(db: str, emulate: str | None) -> str:
    from raxlab.measure.ddp import run_ddp
    from raxlab.measure.ddp_options import DdpOptions

    res = run_ddp(DdpOptions("tiny-lm", steps=5, warmup=2, max_seconds=30).validate(), ranks=2, emulate=emulate,
                  store=db)
    return "ok" if res.status == "complete" else f"FAILED: {res.status}"


def _one(i: int, db: str, emulate: str | None, only_ddp: bool = False) -> dict:
    kind = "ddp" if i % 2 or only_ddp else "comm"
    inject = kind == "comm" and (i // 2) % 4 == 3
    watch = RankSockets()
    watch.start()
    t0 = time.monotonic()
    try:
        status = _ddp(db, emulate) if kind == "ddp" else _comm(db, emulate, inject)
    except Exception as exc:  # a soak records failures and goes on
        status = f"FAILED: {type(exc).__name__}: {exc}"
    watch.stop.set()
    watch.join()
    return _sample(kind + (" +kill" if inject else ""), status, time.monotonic() - t0, watch.seen)


def soak_runs(minutes: float, emulate: str | None, ddp_runs: int = 0) -> list[dict]:
    rows, deadline = [], time.monotonic() + minutes * 60
    with tempfile.TemporaryDirectory(prefix="rax-soak-") as d:
        db = str(Path(d) / "soak.db")
        rows.append(_sample("start", "-", 0.0, set()))
        i = 0
        while (i < ddp_runs) if ddp_runs else (time.monotonic() < deadline or i < 2):
            rows.append(_one(i, db, emulate, only_ddp=bool(ddp_runs)))
            r = rows[-1]
            print(f"  {i:3d} {r['kind']:10s} {r['status'][:50]:50s} {r['wall_s']:6.1f} s  rss {r['rss_mb']:7.1f} MB"
                  f"  fds {r['fds']:3d}  children {r['children']}  netns {r['our_namespaces']}", flush=True)
            i += 1
        from raxlab.store import Store

        con = Store(db).db
        rows[0]["integrity"] = con.execute("PRAGMA integrity_check").fetchone()[0]
        rows[0]["stored_points"] = con.execute("SELECT COUNT(*) FROM points").fetchone()[0]
    return rows


# -- the heavier checks at soak size ---------------------------------------------------------

def _pytest(files: list[str], env: dict) -> dict:
    out = tempfile.mktemp(prefix="rax-fuzz-", suffix=".json")
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files],
                          cwd=ROOT, env={**os.environ, **env, "RAX_FUZZ_COUNTS": out}, capture_output=True, text=True)
    counts = json.loads(Path(out).read_text()) if Path(out).exists() else {}
    tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-300:]
    return {"ok": proc.returncode == 0, "seconds": round(time.monotonic() - t0, 1), "summary": tail,
            "cases": sum(counts.values()), "counts": counts}


def extras() -> dict:
    fuzz = _pytest(["tests/reliability/test_fuzz_spec.py", "tests/reliability/test_fuzz_catalog.py",
                    "tests/reliability/test_fuzz_readers.py"],
                   {"RAX_FUZZ_EXAMPLES": os.environ.get("RAX_FUZZ_EXAMPLES", "1000")})
    kills = int(os.environ.get("RAX_STORE_KILLS", 200))
    store = _pytest(["tests/reliability/test_store_integrity.py::test_kill_9_during_writes_never_loses_a_committed_point"],
                    {"RAX_STORE_KILLS": str(kills)})
    store["kills"] = kills
    return {"fuzz": fuzz, "store": store}


# -- figures ------------------------------------------------------------------------------------

def _slope(ys: list[float]) -> float:
    """Least-squares growth per run (MB/run for RSS)."""
    n = len(ys)
    if n < 2:
        return 0.0
    xm, ym = (n - 1) / 2, statistics.fmean(ys)
    return sum((x - xm) * (y - ym) for x, y in enumerate(ys)) / sum((x - xm) ** 2 for x in range(n))


def figures(rows: list[dict]) -> list[dict]:
    runs = rows[1:]
    steady = runs[WARMUP_RUNS:] or runs
    base = steady[0]
    rss = [r["rss_mb"] for r in steady]
    kinds = {k: [r for r in runs if r["kind"] == k] for k in sorted({r["kind"] for r in runs})}
    out = [{"figure": f"{k} runs", "value": len(v), "detail": f"median {statistics.median(r['wall_s'] for r in v):.1f} s",
            "pass": all(not r["status"].startswith("FAILED") for r in v)} for k, v in kinds.items()]
    for k, v in kinds.items():
        failed = [r["status"] for r in v if r["status"].startswith("FAILED")]
        aborts = sum("SIGABRT" in st for st in failed)
        out.append({"figure": f"{k} runs ended by SIGABRT / other failures", "value": f"{aborts} / {len(failed) - aborts}",
                    "detail": "; ".join(sorted(set(st[8:120] for st in failed)))[:300] or "every run complete",
                    "pass": not failed})
    out += [
        {"figure": "parent RSS after warm-up -> end (MB)", "value": f"{base['rss_mb']} -> {runs[-1]['rss_mb']}",
         "detail": f"max {max(rss)}; slope {_slope(rss):+.2f} MB/run over {len(rss)} runs",
         "pass": max(rss) - base["rss_mb"] < RSS_GROWTH_MB and _slope(rss) < 0.5},
        {"figure": "open fds after warm-up -> end", "value": f"{base['fds']} -> {runs[-1]['fds']}",
         "detail": f"max {max(r['fds'] for r in steady)} (start {rows[0]['fds']})",
         "pass": max(r["fds"] for r in steady) <= base["fds"] + 2},
        {"figure": "threads after warm-up -> end", "value": f"{base['threads']} -> {runs[-1]['threads']}",
         "detail": f"max {max(r['threads'] for r in steady)}", "pass": max(r["threads"] for r in steady) <= base["threads"] + 2},
        {"figure": "child processes left after a run (max)", "value": max(r["children"] for r in runs),
         "detail": "ranks, torchrun, forkserver: none may outlive its run", "pass": max(r["children"] for r in runs) == 0},
        {"figure": "this run's namespaces left after a run (max)", "value": max(r["our_namespaces"] for r in runs),
         "detail": "ip netns list, rax-<our pid>-*", "pass": max(r["our_namespaces"] for r in runs) == 0},
        {"figure": "namespaces of dead owners (start -> end)",
         "value": f"{rows[0]['dead_owner_namespaces']} -> {runs[-1]['dead_owner_namespaces']}",
         "detail": "each emulated run sweeps them", "pass": runs[-1]["dead_owner_namespaces"] == 0},
        {"figure": "listening sockets held by the parent (max)", "value": max(r["parent_listeners"] for r in runs),
         "detail": "", "pass": max(r["parent_listeners"] for r in runs) == 0},
        {"figure": "rank listeners on 0.0.0.0 / :: (total)", "value": sum(r["wildcard_listeners"] for r in runs),
         "detail": f"{sum(r['rank_listeners'] for r in runs)} rank listeners seen in all",
         "pass": sum(r["wildcard_listeners"] for r in runs) == 0},
        {"figure": "store after the soak", "value": rows[0].get("integrity"),
         "detail": f"{rows[0].get('stored_points')} points", "pass": rows[0].get("integrity") == "ok"},
    ]
    return out


def _print(fig: list[dict], extra: dict | None, span: str, where: str) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"RA:X soak: {span} {where}")
    for col in ("figure", "value", "detail", "pass"):
        t.add_column(col)
    for f in fig:
        t.add_row(f["figure"], str(f["value"]), f["detail"], "yes" if f["pass"] else "NO")
    if extra:
        fz, st = extra["fuzz"], extra["store"]
        t.add_row("fuzz cases (spec, catalogue, data readers)", str(fz["cases"]), f"{fz['summary']} in {fz['seconds']} s",
                  "yes" if fz["ok"] else "NO")
        t.add_row("store kill -9 during writes", str(st["kills"]), f"{st['summary']} in {st['seconds']} s",
                  "yes" if st["ok"] else "NO")
    Console(width=200).print(t)


def main() -> int:
    sys.path.insert(0, str(ROOT))  # the socket probe and fault hooks live in tests/
    root = os.geteuid() == 0
    emulate = RATE if root else None
    where = f"over emulated {RATE} links (one rank per namespace)" if root else "on loopback (not root: no emulation)"
    span = f"{DDP_RUNS} DDP runs" if DDP_RUNS else f"{MINUTES:g} min of comm + DDP runs"
    print(f"soak: {span} {where}", flush=True)
    rows = soak_runs(MINUTES, emulate, DDP_RUNS)
    fig = figures(rows)
    extra = None if os.environ.get("RAX_SOAK_EXTRAS", "1") == "0" else extras()
    _print(fig, extra, span, where)
    out = Path(os.environ.get("RAX_SOAK_OUT", ROOT / "out" / "soak.json"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"minutes": MINUTES, "ddp_runs": DDP_RUNS, "where": where, "runs": rows, "figures": fig, "extras": extra},
                              indent=2, default=str))
    print(f"figures written to {out}")
    ok = all(f["pass"] for f in fig) and (extra is None or (extra["fuzz"]["ok"] and extra["store"]["ok"]))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
