"""Orchestration of `rax bench compute` (kept out of the CLI module, which only parses)."""

from __future__ import annotations

from raxlab.errors import RaxError
from raxlab.measure import compute, isolate, kernels
from raxlab.measure.device import PRECISIONS, resolve_device
from raxlab.measure.session import Session
from raxlab.measure.timing import Policy


def parse_list(text: str | None, field: str, allowed=None, cast=str) -> list | None:
    if text is None:
        return None
    try:
        items = [cast(x.strip()) for x in text.split(",") if x.strip()]
    except ValueError:
        raise RaxError(f"expected a comma list of {cast.__name__}s, got {text!r}", field=field) from None
    bad = [x for x in items if allowed is not None and x not in allowed]
    if bad or not items:
        raise RaxError(f"got {text!r}; allowed: {', '.join(map(str, allowed or []))}", field=field)
    return items


def batch_list(args, device: str) -> list[int]:
    given = parse_list(args.batch_sizes, "--micro-batch", cast=int)
    if given:
        if any(b < 1 for b in given):
            raise RaxError(f"batch sizes must be >= 1, got {given}", field="--micro-batch")
        return sorted(set(given))
    cap = args.max_batch or (8 if device == "cpu" else 256)
    if cap < 1:
        raise RaxError(f"must be >= 1, got {cap}", field="--max-batch")
    return [1 << i for i in range(cap.bit_length()) if (1 << i) <= cap]


def catalog_peaks(device: str) -> dict:
    """Dense peaks of this GPU from the catalogue, or {} (never another device's numbers)."""
    if not device.startswith("cuda"):
        return {}
    import torch

    try:
        from raxlab.catalog import load_catalog

        cat = load_catalog()
        acc = cat.match_device(torch.cuda.get_device_name(device))
    except (ImportError, AttributeError, RaxError):
        return {}
    if acc is None:
        return {}
    peaks = {}
    for prec in PRECISIONS:
        try:
            peaks[prec] = acc.peak_flops(prec)
        except RaxError:
            continue
    return {"catalog": peaks, "catalog_entry": acc.name}


def gemm_probe(session: Session, device: str, precisions: list[str], timeout: float) -> dict:
    policy = Policy(min_reps=3, max_reps=10, max_seconds=1.0, warmup_max=3)
    rows = kernels.sweep(session, device, precisions, policy, timeout, slow_s=0.5, gemm_only=True)
    return kernels.ceilings(rows)["gemm_flops"]


def runnable(ref: str, trust_code: bool):
    """(workload to measure, is_proxy): the spec's proxy stands in for a meta-only model."""
    from raxlab.workload import load_workload

    wl = load_workload(ref, trust_code=trust_code)
    if not wl.meta_only:
        return wl, False
    if wl.spec.proxy is None:
        raise RaxError(f"{wl.name} is a meta-only workload (card and projection only) with no proxy block; "
                       "measure a runnable workload such as tiny-lm", field="WORKLOAD")
    return load_workload(ref, trust_code=trust_code, proxy=True), True


def run_compute(args) -> dict:
    from raxlab.workload import load_workload
    from raxlab.workload.card import build_card

    wl, proxy = runnable(args.workload, args.trust_code)
    device = resolve_device(args.device)
    precs = parse_list(args.precisions, "--precision", PRECISIONS) or list(wl.spec.precisions)
    modes = parse_list(args.modes, "--modes", ("train", "infer"))
    for name in ("max_seconds", "point_seconds", "point_timeout"):
        isolate.require_positive_timeout(getattr(args, name), "--" + name.replace("_", "-"))
    recheck = getattr(args, "recheck_seconds", None)
    if recheck is not None and not 0 <= recheck < float("inf"):
        raise RaxError(f"must be a number of seconds >= 0, got {recheck!r}", field="--recheck-seconds")
    card = build_card(wl).to_dict()
    cfg = compute.SweepConfig(args.workload, args.trust_code, device, precs, batch_list(args, device), modes,
                              Policy(min_reps=5, max_reps=50, max_seconds=args.point_seconds, warmup_max=5),
                              args.point_timeout, args.max_seconds, proxy, getattr(args, "recheck_seconds", None))
    isolate.preload("raxlab.workload", "transformers")
    with Session("compute", store=args.store, workload=wl.name, spec=wl.spec.model_dump(mode="json"),
                 params=_params(args, cfg)) as s:
        s.store.put_artifact(s.run_id, "card", card)
        peaks = {"measured": {} if args.no_gemm_probe else gemm_probe(s, device, precs, args.point_timeout),
                 **catalog_peaks(device)}
        s.store.put_artifact(s.run_id, "peaks", peaks)
        rows = compute.sweep(s, cfg, card, wl.tokens_per_sample, peaks)
    return {"run_id": s.run_id, "workload": wl.name, "proxy": proxy, "device": device, "peaks": peaks,
            "points": [_flat(r) for r in rows]}


def _params(args, cfg) -> dict:
    return {"device": cfg.device, "proxy": cfg.proxy, "precisions": cfg.precisions, "batches": cfg.batches, "modes": cfg.modes,
            "max_seconds": args.max_seconds, "point_seconds": args.point_seconds,
            "point_timeout": args.point_timeout, "recheck_seconds": cfg.recheck_s}


def _flat(r: dict) -> dict:
    p, v = r["point"], r["value"] or {}
    summ = v.get("summary", {})
    keys = ("samples_per_s", "tokens_per_s", "achieved_flops", "mfu_vs_measured_gemm", "mfu_vs_catalog_peak",
            "peak_mem_bytes", "card_activation_bytes", "loss_first", "loss_last", "loss_finite")
    return {"mode": p.mode, "precision": p.precision, "batch": p.batch, "status": r["status"],
            "remeasure_of": r.get("remeasure_of"),
            "median_s": summ.get("median"), "rel_iqr": summ.get("rel_iqr"), "p95_s": summ.get("p95"),
            "noisy": summ.get("noisy"), **{k: v.get(k) for k in keys},
            "note": (r["error"] or "").splitlines()[0] if r["error"]
            else "; ".join(n for n in ("noisy" if summ.get("noisy") else "", v.get("mfu_note") or "") if n) or None}
