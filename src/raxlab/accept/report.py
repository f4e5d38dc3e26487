"""The acceptance report: one JSON document and the same as self-contained HTML.

    result = acceptance(target, runs, cat, commands)     # dict, format "raxlab-acceptance"/1
    paths = write(result, out_dir)                       # acceptance.json, acceptance.html (atomic)

HTML goes through the report layer (`report.doc` blocks, `report.html.render`, escaping and
atomic writes there), so the page is offline, printable and labels every number measured
(on which run and nodes), projected (from the plan, with the band) or catalogue.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

from raxlab import __version__
from raxlab import fmt
from raxlab.accept.checks import Check, ddp_checks, fabric_a2a_check, fabric_check, memory_check, overall
from raxlab.accept.plan import Target

FORMAT = "raxlab-acceptance"


def _nodes(runs: dict) -> list[dict]:
    """Every node the measurements ran on, from the runs' per-node fingerprints."""
    seen: dict[str, dict] = {}
    for run in runs.values():
        for role, fp in (run or {}).get("fingerprints", {}).items():
            if role.startswith("node"):
                n = fp.get("node") or {}
                seen.setdefault(role, {"role": role, "hostname": fp.get("hostname"), "address": n.get("address"),
                                       "netns": n.get("netns"), "gpus": [g.get("name") for g in fp.get("gpus") or []],
                                       "cpu": (fp.get("cpu") or {}).get("model"), "torch": fp.get("torch")})
    return [seen[k] for k in sorted(seen)]


def acceptance(t: Target, runs: dict, cat, commands: dict | None = None) -> dict:
    """Evaluate every check; `runs` maps "comm"/"ddp" to stored runs (or None)."""
    a2a = fabric_a2a_check(t, runs.get("comm"), cat)
    checks: list[Check] = [fabric_check(t, runs.get("comm"), cat), *([a2a] if a2a else []),
                           *ddp_checks(t, runs.get("ddp")), memory_check(t)]
    verdict, sentence = overall(checks)
    return {"format": FORMAT, "format_version": 1, "verdict": verdict, "sentence": sentence,
            "plan": {"path": t.path, "workload": t.workload, "accelerator": t.accelerator, "server": t.server,
                     "nodes": t.nodes, "gpus_per_node": t.gpus_per_node, "fabric": t.fabric, "rails": t.rails,
                     "precision": t.precision, "layout": t.layout, "made_by": t.basis.get("made_by"),
                     "error_band": t.band.__dict__ if t.band else None},
            "checks": [c.to_dict() for c in checks], "runs": {k: (r or {}).get("id") for k, r in runs.items()},
            "nodes": _nodes(runs), "commands": commands or {},
            "generated_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "version": __version__}


def _fmt(v, unit: str = "") -> str:
    return fmt.g(v, 4, unit)


def _checks_table(result: dict):
    from raxlab.report.doc import Cell, Column, Label, Table

    cols = [Column("check"), Column("measured", numeric=True), Column("projected", numeric=True),
            Column("tolerance"), Column("deviation", numeric=True), Column("verdict"), Column("note")]
    rows = []
    for c in result["checks"]:
        dev = "N/A" if c["deviation"] is None else f"{c['deviation']:+.1%}"
        rows.append([Cell(c["name"]),
                     Cell(_fmt(c["measured"], c["unit"]), Label("measured", c["measured_basis"]) if c["measured"]
                          is not None else None, c["measured"]),
                     Cell(_fmt(c["projected"], c["unit"]), Label("projected", c["projected_basis"]) if c["projected"]
                          is not None else None, c["projected"]),
                     Cell(c["tolerance"] or "N/A"), Cell(dev), Cell(c["verdict"].upper()), Cell(c["note"] or "")])
    return Table(cols, rows, caption="each check: measured on the delivered cluster vs projected in the plan")


def document(result: dict):
    from raxlab.report.doc import Bullets, Code, Document, Para, Section, Table, Column, Cell

    p = result["plan"]
    verdict = Section("verdict", "Verdict").add(Para(result["sentence"], "verdict"))
    band = p.get("error_band")
    lay = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in p["layout"].items())
    planned = Para(f"Planned: {p['nodes']} x {p['server'] or 'node'} with {p['gpus_per_node']} x {p['accelerator']}, "
                   f"fabric {p['fabric']} x {p['rails']} rails, {p['precision']}, layout: {lay}; error band "
                   + (f"{band['low']:+.0%}/{band['high']:+.0%} ({band['basis']})" if band else "none") + ".")
    checks = Section("checks", "Checks").add(_checks_table(result))
    nodes = Section("cluster", "Delivered cluster (measured)")
    ncols = [Column(x) for x in ("role", "hostname", "address", "netns", "GPUs", "CPU", "torch")]
    nodes.add(Table(ncols, [[Cell(str(n.get(k) or "N/A")) for k in ("role", "hostname", "address", "netns", "gpus",
                                                                    "cpu", "torch")] for n in result["nodes"]],
                    caption=f"runs {', '.join(f'{k} {v}' for k, v in result['runs'].items())}"))
    repro = Section("reproduce", "Reproduce").add(Bullets([f"{k}: {' '.join(v)}" for k, v in
                                                           result["commands"].items()]) if result["commands"]
                                                  else Para("measurements taken from stored runs (--run)", "note"),
                                                  Code(result.get("invocation") or f"rax accept {p['path']}"))
    title = f"RA:X acceptance: {p['workload']} on {p['nodes']} x {p['accelerator']} ({result['verdict'].upper()})"
    return Document(title, f"plan {p['path']}", ",".join(str(v) for v in result["runs"].values()),
                    result["generated_at"], [verdict.add(planned), checks, nodes, repro], result["version"])


def write(result: dict, out_dir: str) -> dict[str, str]:
    from raxlab.report.html import render
    from raxlab.outfile import write_file

    d = Path(out_dir)  # write_file expands ~ (and refuses an unknown user's) for each file
    j = write_file(d / "acceptance.json", json.dumps(result, indent=2, allow_nan=False, default=str) + "\n")
    h = write_file(d / "acceptance.html", render(document(result)))
    return {"json": str(j), "html": str(h)}
