"""Store evidence a team already has as runs, in the shapes the measurement commands store.

`import_nccl_tests(store, files, ...)` makes one run of kind `bench.comm` (as `rax bench comm`):
one `comm` point per size and collective, the α-β fit per collective × transport × ranks × dtype
(artifact `comm_fit`, `raxlab.fits`), the transport when NCCL_DEBUG=INFO lines prove it (artifact
`comm_transport`, `measure/comm/nccl_log.py`), and params marking it `source: imported` with each
file's SHA-256, its hosts and devices. `rax predict --comm-run RUN` and `rax plan --run RUN` then
use the customer's measured fabric.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from raxlab.errors import RaxError
from raxlab.evidence import nccltests
from raxlab.fits import fit_rows

POINT_KIND, RUN_KIND = "comm", "bench.comm"
TRANSPORT_OF_KIND = {"ib": "nccl-ib", "roce": "nccl-ib", "ib+roce": "nccl-ib", "tcp": "nccl-socket",
                     "tcp-ipoib": "nccl-socket", "intra-node": "nccl"}
TRANSPORTS = ("nccl", "nccl-ib", "nccl-socket")


def import_nccl_tests(store, files: list[str], *, collective: str | None = None, ranks: int | None = None,
                      transport: str | None = None, fabric: str | None = None, rails: int | None = None) -> dict:
    if transport is not None and transport not in TRANSPORTS:
        raise RaxError(f"unknown transport {transport!r}; nccl-tests runs over {', '.join(TRANSPORTS)}",
                       field="--transport")
    parsed = [_read(Path(f), collective) for f in files]  # every file parses before anything is stored
    rows, described = [], []
    for path, sections, text, digest in parsed:
        proof = _transport_proof(text)
        arm = transport or TRANSPORT_OF_KIND.get(proof.get("kind") if proof else None, "nccl")
        for s in sections:
            coll, n = nccltests.resolve(s, ranks)
            rows += nccltests.to_rows(s, coll, n, arm)
            described.append(_describe(s, coll, n, arm, path, digest, proof))
    return _store(store, rows, described, fabric, rails, parsed)


def _read(path: Path, collective: str | None):
    sections, text = nccltests.parse_file(path, collective)
    return path, sections, text, hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def _transport_proof(text: str) -> dict | None:
    from raxlab.measure.comm import nccl_log

    info = nccl_log.parse(text)
    return info.to_dict() if (info.paths or info.network or info.ib_devices or info.socket_ifaces) else None


def _describe(s, coll: str, n: int, transport: str, path: Path, digest: str, proof: dict | None) -> dict:
    return {"file": str(path), "sha256": digest, "line": s.line, "collective": coll, "ranks": n,
            "transport": transport, "transport_proof": (proof or {}).get("kind"), "hosts": s.hosts,
            "gpus_per_host": _per_host(s),
            "devices": sorted({d["name"] for d in s.devices}), "header": s.header, "rows": len(s.rows),
            "avg_busbw_GBps": s.avg_busbw_GBps, "out_of_bounds": s.bounds and {"count": s.bounds[0],
                                                                               "result": s.bounds[1]}}


def _per_host(s) -> int | None:
    counts: dict[str, int] = {}
    for d in s.devices:
        counts[d["host"]] = counts.get(d["host"], 0) + 1
    return max(counts.values()) if counts else None


def _store(store, rows: list[dict], described: list[dict], fabric, rails, parsed) -> dict:
    hosts = sorted({h for d in described for h in d["hosts"]})
    per_host = max((d["gpus_per_host"] for d in described if d["gpus_per_host"]), default=None)
    params = {"source": "imported", "format": "nccl-tests", "files": [
        {"path": str(p), "sha256": dig} for p, _, _, dig in parsed], "sections": described, "hosts": hosts,
        "ranks": max(d["ranks"] for d in described), "transport": sorted({d["transport"] for d in described}),
        "gpus_per_host": per_host, "fabric": fabric, "rails": rails, "emulate": None}
    run_id = store.new_run(RUN_KIND, params=params, note="imported nccl-tests output")
    for r in rows:
        ok = r["correct"] is not False
        name = f"{r['collective']} {r['size_bytes']} {r['dtype']} x{r['ranks']}"
        store.add_point(run_id, POINT_KIND, name, "ok" if ok else "failed", params={
            k: r[k] for k in ("collective", "size_bytes", "requested_bytes", "dtype", "ranks", "transport")},
            result=r, error=None if ok else f"{r['wrong']} wrong elements (nccl-tests #wrong)")
    proofs = {str(i): {"kind": d["transport_proof"]} for i, d in enumerate(described) if d["transport_proof"]}
    if proofs:
        store.put_artifact(run_id, "comm_transport", proofs)
    fits = fit_rows(rows)
    store.put_artifact(run_id, "comm_fit", fits)
    wrong = sum(r["wrong"] or 0 for r in rows)
    summary = {"points": len(rows), "wrong": wrong, "imported": len(parsed), "error": None}
    store.finish_run(run_id, "complete", summary=summary)
    return {"run_id": run_id, "kind": RUN_KIND, "source": "imported", "files": params["files"],
            "sections": described, "fits": fits, "hosts": hosts, "points": len(rows), "wrong": wrong}
