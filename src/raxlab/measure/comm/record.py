"""Turn rank-0 events into store records as they arrive: one transaction per point.

Used by the parent (events read from rank 0's stdout) and by rank 0 itself when the
worker runs under torchrun with `--store` (events fed directly), so a killed run
keeps every size it completed, and the fit is computed from what was stored.
"""

from __future__ import annotations

from typing import Callable

from raxlab.fits import fit_rows
from raxlab.store import Store

POINT_KIND = "comm"
RUN_KIND = "bench.comm"


def point_name(row: dict) -> str:
    return f"{row['collective']} {row['size_bytes']} {row['dtype']}"


def peaks(rows: list[dict], fits: list[dict]) -> list[dict]:
    """Peak busbw per collective x dtype over the large sizes (from the fits)."""
    return [{"collective": f["collective"], "dtype": f["dtype"], "ranks": f["ranks"],
             "transport": f["transport"], "peak_busbw_GBps": f["beta_GBps"],
             "at_size_bytes": f.get("peak_size_bytes")} for f in fits]


class Recorder:
    """Stores points, fingerprints and transport records of one comm run."""

    def __init__(self, store: Store, run_id: str, on_event: Callable[[dict], None] | None = None):
        self.store, self.run_id = store, run_id
        self.on_event = on_event or (lambda ev: None)
        self.rows: list[dict] = []
        self.current: dict | None = None  # the "begin" event of the point in flight
        self.transport: dict[str, dict] = {}

    def handle(self, ev: dict) -> None:
        kind = ev.get("ev")
        if kind == "begin":
            self.current = ev
        elif kind == "row":
            self._row(ev["row"], ev.get("samples"))
        elif kind == "transport":
            self.transport[str(ev.get("rank", 0))] = ev["info"]
            self.store.put_artifact(self.run_id, "comm_transport", self.transport)
        elif kind == "fingerprints":
            for item in ev["items"]:
                self.store.add_fingerprint(self.run_id, item["fingerprint"], role=item["role"])
        self.on_event(ev)

    def _row(self, row: dict, samples: list[float] | None) -> None:
        ok = row.get("correct") is not False
        params = {k: row[k] for k in ("collective", "size_bytes", "requested_bytes", "dtype", "ranks", "transport")}
        self.store.add_point(self.run_id, POINT_KIND, point_name(row), "ok" if ok else "failed", params=params,
                             result=row, samples=samples,
                             error=None if ok else f"{row['wrong']} wrong elements in the result")
        self.rows.append(row)
        self.current = None

    def record_failure(self, status: str, error: str) -> None:
        """Store the point that was in flight when the run failed, with the reason."""
        if self.current is None:
            return
        cur = self.current
        params = {"collective": cur.get("collective"), "size_bytes": cur.get("size_bytes"), "dtype": cur.get("dtype")}
        self.store.add_point(self.run_id, POINT_KIND, cur.get("what", "?"), status, params=params, error=error)
        self.current = None

    def finish(self, status: str, error: str | None = None) -> dict:
        """Fit what was measured, store the fit with the run, close the run."""
        fits = fit_rows(self.rows)
        self.store.put_artifact(self.run_id, "comm_fit", fits)
        summary = {"points": len(self.rows), "peaks": peaks(self.rows, fits),
                   "wrong": sum(r.get("wrong") or 0 for r in self.rows), "error": error}
        self.store.finish_run(self.run_id, status, summary=summary)
        return {"fits": fits, **summary}
