"""Measured α-β fits from stored comm runs: a `CommFit` for the projection, and a back-test.

A comm run (`rax bench comm`, kind "bench.comm"; measure/comm/record.py) stores one point per
collective × size and the artifact "comm_fit": one Hockney fit t(S) = α + S·factor/β per
collective × transport × ranks × dtype (measure/comm/fit.py, α the whole collective's latency,
β the peak bus bandwidth over the large sizes). `comm_fit_from_run` turns one of them into the
`CommFit` the projection reads (α per ring step, busbw per GPU), which overrides the fabric prior
(`hardware_from_catalog(..., measured_inter=fit)`, `rax predict --comm-run RUN`).

`calibrate_comm_run` back-tests the fit: per group it refits on part of the sizes (default every
other size) and predicts the held-out ones, and stores the errors as artifact "calibration".
"""

from __future__ import annotations

import statistics

from raxlab.errors import RaxError
from raxlab.predict.hardware import CommFit

RUN_KIND = "bench.comm"
SELECT_KEYS = ("transport", "ranks", "dtype")


def _comm_run(store, ref: str) -> dict:
    run = store.get_run(ref)
    if run["kind"] != RUN_KIND:
        raise RaxError(f"run {run['id']} is a {run['kind']!r} run, not a comm run ({RUN_KIND})", field="--comm-run")
    return run


def select_fit(fits: list[dict], collective: str = "all_reduce", **want) -> dict:
    """The one stored fit of `collective` matching `want` (transport, ranks, dtype); a one-line
    error lists the candidates when none or several match."""
    rows = [f for f in fits if f.get("collective") == collective and f.get("beta_GBps")]
    for key, value in want.items():
        if value is not None:
            rows = [f for f in rows if str(f.get(key)) == str(value)]
    if len(rows) == 1:
        return rows[0]
    have = sorted({", ".join(f"{k}={f.get(k)}" for k in SELECT_KEYS) for f in fits
                   if f.get("collective") == collective}) or ["none"]
    what = "no" if not rows else "several"
    raise RaxError(f"{what} {collective} fits match; stored: {'; '.join(have)} (choose with transport=, ranks=, "
                   "dtype=)", field="--comm-run")


def has_fit(store, run_ref: str, collective: str, **want) -> bool:
    """Whether the comm run holds exactly one usable `collective` fit matching `want`."""
    fits = (_comm_run(store, run_ref).get("artifacts") or {}).get("comm_fit") or []
    rows = [f for f in fits if f.get("collective") == collective and f.get("beta_GBps") and f.get("alpha_us")]
    for key, value in want.items():
        rows = [f for f in rows if value is None or str(f.get(key)) == str(value)]
    return len(rows) == 1


def comm_fit_from_run(store, run_ref: str, collective: str = "all_reduce", *, transport: str | None = None,
                      ranks: int | None = None, dtype: str | None = None) -> CommFit:
    """`CommFit` (α per ring step, busbw per GPU) from the stored α-β fit of a comm run."""
    run = _comm_run(store, run_ref)
    fit = select_fit((run.get("artifacts") or {}).get("comm_fit") or [], collective,
                     transport=transport, ranks=ranks, dtype=dtype)
    if fit.get("alpha_us") is None:
        raise RaxError(f"run {run['id']}: the {collective} fit has no latency (no small sizes were measured); "
                       "re-run `rax bench comm` with smaller sizes (-b)", field="--comm-run")
    where = _where(run)
    per_host = _gpus_per_host(run)
    share = f" = {fit['beta_GBps'] / per_host:.3g} GB/s per GPU ({per_host} GPUs per host share its NICs)" \
        if per_host > 1 else ""
    source = (f"measured: run {run['id']}, {collective} over {fit['ranks']} ranks ({fit['transport']}, {where}), "
              f"alpha {fit['alpha_us']:.3g} us, busbw {fit['beta_GBps']:.3g} GB/s{share}")
    return CommFit.from_collective_fit(fit["alpha_us"] * 1e-6, fit["beta_GBps"] * 1e9 / per_host, int(fit["ranks"]),
                                       kind=collective, source=source)


def _gpus_per_host(run: dict) -> int:
    """GPUs per host of an imported multi-node log: nccl-tests busbw across nodes is about a node's whole
    NIC bandwidth (8 x HDR DGX A100 nodes: ~192 GB/s = 8 x 24 GB/s, plan/measured.py), so each GPU's
    share is busbw / GPUs per host. `rax bench comm` runs one rank per host or namespace: 1."""
    params = run.get("params") or {}
    if params.get("source") != "imported" or len(params.get("hosts") or []) < 2:
        return 1
    return max(int(params.get("gpus_per_host") or 1), 1)


def _where(run: dict) -> str:
    params = run.get("params") or {}
    if params.get("source") == "imported":
        hosts = params.get("hosts") or []
        return (f"imported nccl-tests log across {len(hosts)} hosts" if len(hosts) > 1 else
                "imported nccl-tests log of one host: its scale-up links, no network between nodes")
    if params.get("emulate"):
        return f"emulated {params['emulate']} links"
    if params.get("torchrun_args") is not None:
        return "across nodes"
    return "processes on one host: loopback, no network between nodes was measured"


def calibrate_comm_run(store, ref: str, holdout_every: int = 2, save: bool = True) -> dict:
    """Per fit group, refit α-β on all sizes but every `holdout_every`-th and predict those."""
    from raxlab.fits import fit_alpha_beta

    run = _comm_run(store, ref)
    groups: dict[tuple, list[dict]] = {}
    for p in run["points"]:
        r = p.get("result") or {}
        if p["kind"] == "comm" and p["status"] == "ok" and r.get("time_us"):
            groups.setdefault(tuple(r.get(k) for k in ("collective", *SELECT_KEYS)), []).append(r)
    rows, fits = [], []
    for key, pts in sorted(groups.items(), key=lambda kv: str(kv[0])):
        pts.sort(key=lambda r: r["size_bytes"])
        held = [r for i, r in enumerate(pts) if i % holdout_every == 1]
        train = [r for r in pts if r not in held]
        if len(train) < 2 or not held:
            continue
        fit = fit_alpha_beta([r["size_bytes"] for r in train], [r["time_us"] * 1e-6 for r in train],
                             pts[0]["busbw_factor"])
        fits.append({**dict(zip(("collective", *SELECT_KEYS), key)), **fit})
        rows += [_comm_row(key, r, fit) for r in held]
    if not rows:
        raise RaxError(f"run {run['id']} has no fit group with enough sizes to hold some out", field="RUN")
    errs = [abs(r["error"]) for r in rows if r["error"] is not None]
    out = {"run": run["id"], "kind": RUN_KIND, "split": f"every {holdout_every}. size held out", "fits": fits,
           "rows": rows, "held_out": {"n": len(errs), "median_abs": statistics.median(errs) if errs else None,
                                      "max_abs": max(errs) if errs else None}, "notes": [_where(run)]}
    if save:
        store.put_artifact(run["id"], "calibration", out)
    return out


def _comm_row(key: tuple, r: dict, fit: dict) -> dict:
    alpha = (fit.get("alpha_us") or 0.0) * 1e-6
    pred = alpha + r["size_bytes"] * r["busbw_factor"] / (fit["beta_GBps"] * 1e9) if fit.get("beta_GBps") else None
    meas = r["time_us"] * 1e-6
    return {"label": f"{key[0]} {key[1]} x{key[2]} {key[3]} {r['size_bytes']} B", "size_bytes": r["size_bytes"],
            "role": "held-out", "measured_s": meas, "predicted_s": pred,
            "error": None if pred is None else pred / meas - 1.0}
