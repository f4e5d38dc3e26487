"""Labels and small helpers shared by the section builders."""

from __future__ import annotations

from raxlab.report import fmt
from raxlab.report.doc import Label

def not_measured(why: str = "") -> str:
    """The one line a section without data prints (never a number it does not have)."""
    return f"Not measured in this run ({why})." if why else "Not measured in this run."


def machine_text(fp: dict | None) -> str:
    """'vm: AMD EPYC, 2 cores, 23.5 GiB, no GPU' from a fingerprint."""
    if not fp:
        return "an unrecorded machine"
    cpu = fp.get("cpu") or {}
    gpus = fp.get("gpus") or []
    gpu = ", ".join(f"{g.get('name')}" for g in gpus) if gpus else "no GPU"
    cores = cpu.get("usable_cores") or cpu.get("logical_cores")
    return (f"{fp.get('hostname') or '?'}: {cpu.get('model') or 'unknown CPU'}, {cores or '?'} cores, "
            f"{fmt.nbytes(fp.get('mem_bytes'))}, {gpu}")


def host_fp(run: dict) -> dict | None:
    fps = run.get("fingerprints") or {}
    return fps.get("host") or fps.get("rank0") or next(iter(fps.values()), None)


def measured(run: dict, what: str = "") -> Label:
    """Measured here: on which machine, in which run."""
    lead = f"{what} " if what else ""
    return Label("measured", f"{lead}on {machine_text(host_fp(run))}; run {run['id']}")


def card_label() -> Label:
    """Card numbers are counted from the model itself, not from this machine's speed."""
    return Label("measured", "counted from the model by the workload card (a traced step; hardware-independent)")


def band_text(band: dict | None) -> str:
    if not band or fmt.num(band.get("low")) is None:
        return "no error band for this kind of projection (N/A)"
    return f"model error band {fmt.signed_pct(band['low'])} … {fmt.signed_pct(band.get('high'))}"


def projected(band: dict | None, source: str = "", short: bool = False) -> Label:
    """Projected: from what, with what band (`short`: without the band's long provenance)."""
    basis = band_text(band)
    if band and band.get("basis") and not short:
        basis += f" ({band['basis']})"
    return Label("projected", f"{source + '; ' if source else ''}{basis}")


def with_band(value, band: dict | None, render, interval=None, time: bool = False) -> str:
    """'12.3 days (10.3 … 14.3)': a projection and its range, the plan's own `interval` [lo, hi]
    when it stored one, else the value under the relative band (display only). The band is
    on throughput (published/predicted - 1), so a time t spans t/(1+high) … t/(1+low)."""
    v = fmt.num(value)
    if v is None:
        return fmt.NA
    if isinstance(interval, (list, tuple)) and len(interval) == 2 and None not in map(fmt.num, interval):
        return f"{render(v)} ({render(interval[0])} … {render(interval[1])})"
    lo, hi = fmt.num((band or {}).get("low")), fmt.num((band or {}).get("high"))
    if lo is None or hi is None:
        return f"{render(v)} (band N/A)"
    if time:
        return f"{render(v)} ({render(v / (1 + hi))} … {render(v / (1 + lo))})"
    return f"{render(v)} ({render(v * (1 + lo))} … {render(v * (1 + hi))})"


def catalogue(prov: dict | None) -> Label:
    """Catalogue number with its source and date (or estimate / override)."""
    if not prov:
        return Label("catalogue", "catalogue, source not recorded")
    kind = prov.get("label") or ("estimate" if prov.get("estimate") else "catalogue")
    src = prov.get("source") or prov.get("estimate") or "no source recorded"
    return Label(kind if kind in ("catalogue", "estimate", "override") else "catalogue",
                 f"{src}, as of {prov.get('as_of') or '?'}")


def get(d, *path, default=None):
    """d[path[0]][path[1]]... or `default` when any step is missing."""
    for key in path:
        if isinstance(d, dict) and key in d:
            d = d[key]
        elif isinstance(d, list) and isinstance(key, int) and -len(d) <= key < len(d):
            d = d[key]
        else:
            return default
    return d


def first(d: dict | None, *keys, default=None):
    """The first of `keys` present (and not None) in `d`: tolerate renamed fields."""
    for key in keys:
        if isinstance(d, dict) and d.get(key) is not None:
            return d[key]
    return default


def ok_points(run: dict | None, kind: str) -> list[dict]:
    if not run:
        return []
    return [p for p in run["points"] if p["kind"] == kind and p["status"] == "ok" and p.get("result")]
