"""What changed between two runs, and whether it is significant (`rax runs compare`).

Points are matched by (kind, name) over the run and the stages it links. For each pair with
raw samples: the ratio B/A of geometric means with Welch's interval on the logs, decided by
the one rule set of `raxlab.equivalence` (the same as `rax abtest`, there on paired rounds):
*slower* / *faster* when the (1 - 2 alpha) interval lies beyond 1 +- threshold, *tie* when it
lies inside (a proven equivalence), otherwise *inconclusive* with how many more samples would
likely settle it. Samples are times (seconds per step, iteration or batch), so a ratio below
1 means B is faster. Identical sample sets are a tie by construction. The Mann-Whitney U
p-value is shown beside it. Machines that differ are warned about, as pytest-benchmark does.
"""

from __future__ import annotations

from raxlab import equivalence as eq
from raxlab import stats
from raxlab.report.model import ReportData

THRESHOLD = eq.THRESHOLD  # the one rule set with `rax abtest`: 5 %, one-sided alpha 0.05 per test
ALPHA = eq.ALPHA
MIN_SAMPLES = 3
WORDS = {eq.SLOWER: "slower", eq.FASTER: "faster", eq.EQUIVALENT: "tie", eq.INCONCLUSIVE: "inconclusive"}


def _flat(d, prefix: str = "") -> dict:
    out = {}
    for k, v in (d or {}).items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flat(v, key + "."))
        else:
            out[key] = v
    return out


def diff(a: dict | None, b: dict | None) -> list[dict]:
    fa, fb = _flat(a), _flat(b)
    return [{"key": k, "a": fa.get(k), "b": fb.get(k)} for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k)]


def _runs(data: ReportData) -> list[dict]:
    return [data.root, *data.children()]


def _points(data: ReportData) -> dict[tuple, dict]:
    out = {}
    for run in _runs(data):
        for p in run["points"]:
            key = (p["kind"], p["name"])
            if key in out:  # the same point in two stages: keep both apart
                key = (p["kind"], f"{p['name']} [{data.stage_of(run['id']) or run['id']}]")
            out[key] = p
    return out


def _fingerprints(data: ReportData) -> dict[str, dict]:
    return {f"{data.stage_of(rid) or data.runs[rid]['kind']}/{role}": fp for rid, role, fp in data.fingerprints()}


def point_change(pa: dict, pb: dict, threshold: float, alpha: float) -> dict:
    row = {"kind": pa["kind"], "name": pa["name"], "status_a": pa["status"], "status_b": pb["status"],
           "n_a": len(pa["samples"] or []), "n_b": len(pb["samples"] or []), "median_a": None, "median_b": None,
           "ratio": None, "ci": None, "p_value": None}
    if pa["status"] != pb["status"]:
        return {**row, "verdict": "status changed", "why": f"{pa['status']} -> {pb['status']}"}
    if min(row["n_a"], row["n_b"]) == 0:
        return {**row, "verdict": "n/a", "why": "no raw samples in one of the runs"}
    a, b = pa["samples"], pb["samples"]
    row.update(median_a=stats.summarize(a).median, median_b=stats.summarize(b).median)
    if min(row["n_a"], row["n_b"]) < MIN_SAMPLES or min(a + b) <= 0:
        return {**row, "verdict": "inconclusive", "why": f"too few positive samples ({min(row['n_a'], row['n_b'])}) "
                f"to tell; at least {MIN_SAMPLES} each"}
    if sorted(a) == sorted(b):
        return {**row, "ratio": 1.0, "ci": [1.0, 1.0], "p_value": 1.0, "verdict": "tie", "why": "identical samples"}
    iv = eq.independent(b, a, alpha)
    p = stats.mann_whitney_p(a, b)
    row.update(ratio=iv.ratio, ci=[iv.lo, iv.hi], p_value=p)
    return {**row, **_verdict(iv, threshold, alpha)}


def _verdict(iv: eq.Interval, threshold: float, alpha: float) -> dict:
    word = WORDS[eq.classify(iv.lo, iv.hi, threshold)]
    ci = f"{1 - 2 * alpha:.0%} interval {iv.lo:.3g}-{iv.hi:.3g}"
    if word in ("slower", "faster"):
        return {"verdict": word, "why": f"B takes {iv.ratio:.3g}x the time of A ({ci}, beyond +-{threshold:.0%})"}
    if word == "tie":
        return {"verdict": word, "why": f"equivalent: {ci} inside +-{threshold:.0%}"}
    more = eq.more_pairs(iv, threshold, alpha)
    need = f"about {more} more samples per run would likely settle it" if more else "the estimate sits on the threshold"
    return {"verdict": word, "why": f"{ci} overlaps the edge of +-{threshold:.0%}; {need}"}


def compare(a: ReportData, b: ReportData, threshold: float = THRESHOLD, alpha: float = ALPHA) -> dict:
    pa, pb = _points(a), _points(b)
    changes = [point_change(pa[k], pb[k], threshold, alpha) for k in pa if k in pb]
    ma, mb = set(a.machines()), set(b.machines())
    warnings = []
    if ma != mb:
        warnings.append(f"the runs were measured on different machines ({', '.join(sorted(ma))} vs "
                        f"{', '.join(sorted(mb))}): differences may come from the hardware, not the change")
    if a.root["kind"] != b.root["kind"]:
        warnings.append(f"comparing a {a.root['kind']} run with a {b.root['kind']} run: only points of the same "
                        "kind and name are matched")
    fa, fb = _fingerprints(a), _fingerprints(b)
    fp_changes = [{"role": r, **d} for r in sorted(set(fa) & set(fb)) for d in diff(fa[r], fb[r])]
    counts: dict[str, int] = {}
    for c in changes:
        counts[c["verdict"]] = counts.get(c["verdict"], 0) + 1
    return {"a": _header(a), "b": _header(b), "same_machine": ma == mb, "warnings": warnings,
            "threshold": threshold, "alpha": alpha, "fingerprint_changes": fp_changes,
            "param_changes": diff(a.root.get("params"), b.root.get("params")), "points": changes,
            "only_in_a": [f"{k[0]} {k[1]}" for k in pa if k not in pb],
            "only_in_b": [f"{k[0]} {k[1]}" for k in pb if k not in pa], "summary": counts}


def _header(d: ReportData) -> dict:
    r = d.root
    return {"id": r["id"], "kind": r["kind"], "workload": r.get("workload"), "created_at": r["created_at"],
            "status": r["status"], "machines": sorted(d.machines())}
