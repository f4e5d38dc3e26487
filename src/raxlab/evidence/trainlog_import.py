"""A training log as stored calibration points, with the projection's error on them.

`import_train_log(store, workload, file, stated)` stores a run of kind `train-log`: one point per
logged step (warm-up steps `skipped`), the layout and hardware (from the command line, else from
the log; a disagreement is an error), and artifact `calibration` in the shape of `rax calibrate`'s
back-tests (rows of measured vs projected with the signed error), which `rax report RUN` shows.
"""

from __future__ import annotations

import hashlib
import statistics
from pathlib import Path

from raxlab.errors import RaxError
from raxlab.evidence import trainlog

RUN_KIND, POINT_KIND = "train-log", "train-step"
LAYOUT_KEYS = ("gpus", "tp", "pp", "dp", "vpp", "micro_batch", "global_batch", "seq_len")


def import_train_log(store, workload: str, file: str, stated: dict, *, skip: int | None = None,
                     trust_code: bool = False) -> dict:
    path = Path(file)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise RaxError(f"cannot read {file}: {exc.strerror or exc}", field="FILE") from None
    log = trainlog.parse(text, str(path))
    lay = merge_layout(stated, log)
    recs, skipped = trainlog.steady(log, skip)
    measured = _measured(log, recs, lay)
    projected, notes = _projection(workload, lay, trust_code)
    rows = _rows(log.framework, measured, projected, lay)
    run_id = _store(store, workload, path, text, log, lay, recs, skipped, measured, projected, rows, notes)
    return {"run_id": run_id, "kind": RUN_KIND, "framework": log.framework, "workload": workload, "layout": lay,
            "steps": len(recs), "skipped": skipped, "measured": measured, "projected": projected, "rows": rows,
            "notes": notes}


def merge_layout(cli: dict, log: trainlog.TrainLog) -> dict:
    """The command line's layout, filled in (never overridden) by what the log states."""
    from_log = _log_layout(log)
    out = {k: v for k, v in cli.items() if v is not None}
    for k, v in from_log.items():
        if k in out and out[k] != v:
            raise RaxError(f"--{k.replace('_', '-')} {out[k]} but the log says {v}", field=f"--{k.replace('_', '-')}")
        out.setdefault(k, v)
    if "gpus" not in out and all(k in out for k in ("tp", "pp", "dp")):
        out["gpus"] = out["tp"] * out["pp"] * out["dp"]
    if "dp" not in out and all(k in out for k in ("gpus", "tp", "pp")):
        out["dp"] = out["gpus"] // (out["tp"] * out["pp"])
    return out


def _log_layout(log: trainlog.TrainLog) -> dict:
    s = log.stated
    out: dict = {}
    if log.framework != "megatron":
        return {k: s[k] for k in ("micro_batch", "global_batch", "seq_len") if k in s}
    for arg, key in trainlog.MEGATRON_ARGS.items():
        if key in LAYOUT_KEYS and arg in s and s[arg].lstrip("-").isdigit():
            out[key] = int(s[arg])
    if s.get("bf16") == "True":
        out["precision"] = "bf16"
    elif s.get("fp16") == "True":
        out["precision"] = "fp16"
    if s.get("fp8") not in (None, "None", "False"):
        out["precision"] = "fp8"
    if s.get("sequence_parallel") == "True":
        out["sequence_parallel"] = True
    if s.get("recompute_granularity") in ("full", "selective"):
        out["recompute"] = s["recompute_granularity"]
    if s.get("use_distributed_optimizer") == "True":
        out["zero"] = 1
    gb = {r["global_batch"] for r in log.records if r.get("global_batch")}
    if len(gb) == 1:
        out.setdefault("global_batch", int(gb.pop()))
    return out


def _measured(log, recs: list[dict], lay: dict) -> dict:
    """Median (and quartiles) of what the log measured, per GPU where the framework says per GPU."""
    out = {k: trainlog.summarize(recs, k) for k in ("step_time_s", "tflops_per_gpu", "tokens_per_s_per_gpu", "mfu",
                                                    "samples_per_s", "memory_gib")}
    tps = out["tokens_per_s_per_gpu"]
    if out["step_time_s"] is None and tps and all(lay.get(k) for k in ("global_batch", "seq_len", "gpus")):
        step = lay["global_batch"] * lay["seq_len"] / (tps["median"] * lay["gpus"])
        out["step_time_s"] = {"median": step, "n": tps["n"], "derived": "global batch x seq / (tps x GPUs)"}
    return {k: v for k, v in out.items() if v is not None}


def _projection(workload: str, lay: dict, trust_code: bool) -> tuple[dict | None, list[str]]:
    need = [k for k in ("gpu", "gpus", "tp", "pp", "micro_batch", "global_batch") if lay.get(k) is None]
    if need:
        return None, [f"no projection to compare with: give {', '.join('--' + k.replace('_', '-') for k in need)} "
                      "(the log does not state them)"]
    from raxlab.catalog import load_catalog
    from raxlab.predict import api
    from raxlab.predict.adapter import hardware_from_catalog
    from raxlab.predict.layout import Layout
    from raxlab.workload.cardcache import card_for

    card, _ = card_for(workload, trust_code=trust_code)
    hw, notes = hardware_from_catalog(load_catalog(), gpu=lay["gpu"], fabric=lay.get("fabric"),
                                      rails=lay.get("rails"), gpus_per_node=lay.get("gpus_per_node"))
    layout = Layout(tp=lay["tp"], pp=lay["pp"], dp=lay["dp"], micro_batch=lay["micro_batch"],
                    global_batch=lay["global_batch"], vpp=lay.get("vpp") or 1, zero=lay.get("zero") or 0,
                    recompute=lay.get("recompute") or "none",
                    sequence_parallel=bool(lay.get("sequence_parallel")))
    proj = api.predict_card_training(card, hw, layout, lay.get("precision") or "bf16", gpus=lay["gpus"],
                                     seq=lay.get("seq_len"), assumptions=notes).to_dict()
    return proj, []


def _rows(framework: str, m: dict, proj: dict | None, lay: dict) -> list[dict]:
    """Measured vs projected per quantity the log has; error = projected / measured - 1 (signed)."""
    if proj is None:
        return []
    gpus = lay["gpus"]
    pairs = [("step time", "s", m.get("step_time_s"), proj["step_time_s"]),
             ("TFLOP/s per GPU (model FLOPs)", "TFLOP/s", m.get("tflops_per_gpu"), proj.get("tflops_per_gpu")),
             ("tokens/s per GPU", "tokens/s", m.get("tokens_per_s_per_gpu"),
              proj["tokens_per_s"] / gpus if proj.get("tokens_per_s") else None),
             ("samples/s", "samples/s", m.get("samples_per_s"), proj.get("samples_per_s"))]
    rows = []
    for what, unit, meas, pred in pairs:
        if meas is None or pred is None:
            continue
        v = meas["median"]
        rows.append({"label": f"{framework}: {what} (median of {meas['n']})", "quantity": what, "unit": unit,
                     "role": "imported", "measured": v, "projected": pred, "error": pred / v - 1 if v else None,
                     "measured_s": v if unit == "s" else None, "predicted_s": pred if unit == "s" else None})
    return rows


def _store(store, workload, path: Path, text: str, log, lay, recs, skipped, measured, projected, rows, notes) -> str:
    digest = hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()
    params = {"source": "imported", "format": log.framework, "file": {"path": str(path), "sha256": digest},
              "layout": lay, "stated_by_log": log.stated, "skip_steps": skipped}
    run_id = store.new_run(RUN_KIND, workload=workload, params=params, note=f"imported {log.framework} training log")
    steady_ids = {id(r) for r in recs}
    for r in log.records:
        status = "ok" if id(r) in steady_ids else "skipped"
        store.add_point(run_id, POINT_KIND, f"step {r.get('step')}", status, params={"step": r.get("step")},
                        result=r, error=None if status == "ok" else "warm-up step (--skip-steps)")
    errs = [abs(r["error"]) for r in rows if r["error"] is not None]
    cal = {"run": run_id, "kind": RUN_KIND, "framework": log.framework, "rows": rows, "measured": measured,
           "projection": projected and {k: projected[k] for k in ("step_time_s", "tokens_per_s", "tflops_per_gpu",
                                                                  "mfu", "memory_per_gpu_gib", "fits", "error_band")},
           "held_out": {"n": len(errs), "median_abs": statistics.median(errs) if errs else None,
                        "max_abs": max(errs) if errs else None},
           "notes": notes + _basis(log.framework)}
    store.put_artifact(run_id, "calibration", cal)
    store.finish_run(run_id, "complete", summary={"steps": len(recs), "skipped": skipped, "rows": len(rows)})
    return run_id


def _basis(framework: str) -> list[str]:
    return {"megatron": ["Megatron-LM's TFLOP/s/GPU counts its own FLOP formula (recomputation included when on); "
                         "the projection's counts model FLOPs only (no recompute): compare step times first"],
            "torchtitan": ["torchtitan's tps and tflops are per GPU (tokens of one data-parallel rank's batch)"],
            "huggingface": ["Hugging Face Trainer: one whole-run figure (train_runtime includes start-up, "
                            "evaluation and checkpoints), so the step time is an upper bound"]}.get(framework, [])
