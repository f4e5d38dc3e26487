"""`rax predict WORKLOAD`: project a workload onto a candidate cluster and layout.

List-valued layout and hardware flags sweep: `--tp 1,2,4,8 --pp 1,2,4 --micro-batch 1,2 --gpu
h100-sxm,b200` projects every combination and prints a table sorted by throughput, with the
layouts that do not fit or cannot run and why. Exit code 4 when the layout (every layout of a
sweep) does not fit or cannot run (`rax --help`, README "Exit codes").
"""

import argparse
import itertools

from raxlab.cli._catalog import add_catalog_override
from raxlab.cli.common import (EXIT_NO_FIT, EXIT_OK, add_artefacts, add_json, add_store, add_workload, console,
                               deprecated_alias, emit, int_list, str_list, styled, workload_ref, write_artefacts)

COMMAND = "predict"
HELP = "project step time, throughput, memory and error band of a workload on a candidate cluster"
ORDER = 40

# Flags that take a comma list and sweep (dest -> single-value default); every other flag is one value.
SWEEP = {"gpu": None, "fabric": None, "precision": "bf16", "recompute": "none", "tp": 1, "pp": 1, "dp": None,
         "vpp": 1, "micro_batch": None, "zero": 0, "ep": 1, "cp": 1}


def add_arguments(p):
    add_workload(p, deprecated_flag=True)
    hw = p.add_argument_group("hardware (catalogue names: `rax catalog list`; comma lists sweep)")
    hw.add_argument("--gpu", type=str_list, required=True, help="accelerator(s), e.g. h100-sxm or h100-sxm,b200")
    hw.add_argument("--server", help="server design (default: the first that takes the GPU)")
    hw.add_argument("--gpus", type=int, help="total GPUs (default: tp x pp x dp)")
    hw.add_argument("--gpus-per-node", type=int, help="GPUs per node (default: the server's)")
    hw.add_argument("--fabric", type=str_list, help="scale-out fabric(s), e.g. ib-ndr, roce-400, tcp-100")
    hw.add_argument("--rails", type=int, help="NICs per node on the fabric (default: one per GPU)")
    hw.add_argument("--oversubscription", type=float, default=1.0, help="fat-tree taper above the leaf (default 1)")
    hw.add_argument("--nodes-per-leaf", type=int, default=0, help="nodes under one leaf switch (0: non-blocking)")
    hw.add_argument("--comm-run", metavar="RUN", help="a stored `rax bench comm` (or `rax import nccl-tests`) run whose "
                    "measured all-reduce alpha-beta replaces the fabric prior (its busbw taken as each GPU's share "
                    "of the scale-out fabric); its all_to_all fit, when it swept one, prices the expert-parallel "
                    "dispatch/combine across nodes")
    hw.add_argument("--comm-transport", help="with --comm-run: which measured transport (when it holds several)")
    hw.add_argument("--comm-ranks", type=int, help="with --comm-run: which measured rank count (when several)")
    lay = p.add_argument_group("layout (comma lists sweep, e.g. --tp 1,2,4,8 --pp 1,2)")
    lay.add_argument("--tp", type=int_list, default=[1], help="tensor parallel (default 1)")
    lay.add_argument("--pp", type=int_list, default=[1], help="pipeline parallel (default 1)")
    lay.add_argument("--dp", type=int_list, help="data parallel (default: gpus / (tp x pp x cp))")
    lay.add_argument("--ep", type=int_list, default=[1], help="expert parallel, folded into tp x cp x dp (MoE; default 1)")
    lay.add_argument("--etp", type=int, help="expert tensor parallel (MoE; default: tp, as Megatron-Core)")
    lay.add_argument("--cp", type=int_list, default=[1], help="context parallel: each sequence split over cp GPUs "
                     "(default 1)")
    lay.add_argument("--cp-comm", default="ring", choices=("ring", "all_gather"),
                     help="CP exchange of K and V: ring (overlapped, Megatron-Core p2p) or all_gather (Llama 3)")
    lay.add_argument("--moe-overlap", action="store_true",
                     help="EP all-to-all overlapped with compute (default: in line, as Megatron-Core's dispatcher)")
    lay.add_argument("--ep-dispatch", default="alltoall", choices=("alltoall", "hierarchical"),
                     help="EP token exchange: alltoall (NCCL, Megatron-Core's dispatcher; default) or hierarchical "
                          "(DeepEP-style: one scale-out copy per remote node, NVLink forwarding)")
    lay.add_argument("--moe-imbalance", type=float,
                     help="MoE routing load factor, busiest EP rank / mean (default: the prior in predict/data/moe.yaml)")
    lay.add_argument("--vpp", type=int_list, default=[1], help="model chunks per pipeline stage (interleaved 1F1B)")
    lay.add_argument("--micro-batch", type=int_list, help="sequences per micro-batch (default: the workload's)")
    lay.add_argument("--global-batch", type=int, help="sequences per optimizer step (default: the workload's)")
    lay.add_argument("--seq-len", type=int, help="tokens per sequence (default: the workload's)")
    lay.add_argument("--precision", type=str_list, default=["bf16"], help="fp32, tf32, bf16, fp16 or fp8 (default bf16)")
    lay.add_argument("--recompute", type=str_list, default=["none"],
                     help="none, selective or full activation recomputation")
    lay.add_argument("--zero", type=int_list, default=[0], help="ZeRO stage 0-3")
    lay.add_argument("--fsdp", action="store_true", help="FSDP full sharding (= ZeRO-3)")
    lay.add_argument("--zero3-gather", default="prefetch", choices=("prefetch", "blocking"),
                     help="ZeRO-3 weight gathers: prefetch (FSDP-style, overlapped; default) or blocking "
                          "(serial per-parameter gathers, DeepSpeed ZeRO-3 of 2021)")
    lay.add_argument("--sequence-parallel", action="store_true", help="Megatron sequence parallelism with TP")
    lay.add_argument("--attention", default="fused", help="fused (the GPU generation's native kernel: cuDNN / "
                     "FlashAttention-3 class as Transformer Engine uses it; default), flash (FlashAttention-2, e.g. "
                     "PyTorch SDPA), flash1 or unfused")
    lay.add_argument("--tp-overlap", action="store_true", help="TP collectives overlapped with the GEMMs "
                     "(Megatron-Core/NeMo --tp-comm-overlap, Transformer Engine userbuffers)")
    lay.add_argument("--lora-rank", type=int, help="LoRA fine-tuning with adapters of this rank, base weights frozen "
                     "(default: the workload's lora_rank, else all weights trained)")
    lay.add_argument("--no-overlap-grad-reduce", action="store_true", help="DP gradient sync after backward")
    inf = p.add_argument_group("inference (--infer)")
    inf.add_argument("--infer", action="store_true", help="project serving instead of training")
    inf.add_argument("--decode-batch", type=int_list, default=[1, 8, 32, 128],
                     help="decode batch sizes, a comma list (default 1,8,32,128)")
    deprecated_alias(inf, "--batch", "--decode-batch", dest="decode_batch", type=int, nargs="+")
    inf.add_argument("--prompt", type=int, default=1024, help="prompt tokens per request")
    inf.add_argument("--gen", type=int, default=256, help="generated tokens per request")
    add_artefacts(p)
    add_catalog_override(p)
    add_json(p)
    add_store(p)


def run(args) -> int:
    from raxlab.cli._catalog import load
    from raxlab.errors import RaxError

    ref = workload_ref(args)
    card, spec = _card(ref, args)
    measured = _measured_fabric(args)
    cat, hw_cache = load(args), {}
    combos = _combos(args)
    if args.infer:
        if len(combos) > 1:
            raise RaxError("a sweep projects training; --infer takes one value per flag (and a --decode-batch list)",
                           field="--infer")
        hw, notes = _hardware(cat, combos[0], args, measured, hw_cache)
        out = _inference(card, hw, combos[0], notes)
        _artefacts(args, cat, card, spec, hw, combos[0], inference=out)
        emit(args, out, _render_infer)
        return EXIT_OK
    if len(combos) == 1:
        hw, notes = _hardware(cat, combos[0], args, measured, hw_cache)
        d = {"workload": card.name, **_train(card, spec, hw, combos[0], notes).to_dict()}
        _artefacts(args, cat, card, spec, hw, combos[0])
        emit(args, d, _render_train)
        return EXIT_OK if d["fits"] else EXIT_NO_FIT
    if args.artefacts:
        raise RaxError("--artefacts writes the launch files of one layout; give one value per layout flag",
                       field="--artefacts")
    from raxlab.cli._sweep import render_sweep
    from raxlab.predict.api import usable_memory
    from raxlab.predict.projection import GIB
    from raxlab.predict.sweep import run_sweep

    def project(c):
        hw, notes = _hardware(cat, c, args, measured, hw_cache)
        return _train(card, spec, hw, c, notes), usable_memory(hw) / GIB

    table = run_sweep(combos, project, lambda c: {k: getattr(c, k) for k in SWEEP})
    emit(args, {"workload": card.name, **table}, render_sweep)
    return EXIT_OK if table["fitting"] else EXIT_NO_FIT


def _artefacts(args, cat, card, spec, hw, c, inference: dict | None = None) -> None:
    """`--artefacts DIR`: the launch files of this one layout (plan/artefacts.py)."""
    if not args.artefacts:
        return
    from raxlab.errors import RaxError
    from raxlab.plan import launch_target
    from raxlab.predict.shape import shape_from_card

    shape = shape_from_card(card, seq=c.seq_len)
    if inference is not None:
        block = launch_target.from_inference(inference, workload=card.name, hw=hw, cat=cat, gpu=c.gpu, shape=shape)
        if block is None:
            raise RaxError("no decode batch fits in GPU memory: nothing to launch", field="--artefacts")
    else:
        block = launch_target.from_prediction(workload=card.name, hw=hw, cat=cat, gpu=c.gpu, fabric=c.fabric,
                                              rails=args.rails, precision=c.precision, layout=_layout(c, spec),
                                              seq_len=c.seq_len or spec.seq_len, shape=shape,
                                              moe=getattr(card, "moe", None))
    write_artefacts(args, block)


def _card(ref: str, args):
    """The workload's card (from the on-disk card cache when it holds it: no torch import) and spec."""
    from raxlab.workload.cardcache import card_for

    return card_for(ref, trust_code=args.trust_code)


def _combos(args) -> list[argparse.Namespace]:
    """One Namespace per combination of the list-valued flags, each with one value per flag."""
    names = list(SWEEP)
    values = [getattr(args, n) if getattr(args, n) is not None else [SWEEP[n]] for n in names]
    out = []
    for combo in itertools.product(*values):
        ns = argparse.Namespace(**vars(args))
        for n, v in zip(names, combo):
            setattr(ns, n, v)
        out.append(ns)
    return out


def _hardware(cat, c, args, measured, cache: dict):
    """(Hardware, notes) for a combination's accelerator and fabric (built once per pair)."""
    from raxlab.predict.adapter import hardware_from_catalog

    key = (c.gpu, c.fabric)
    measured, a2a = measured or (None, None)
    if key not in cache:
        hw, notes = hardware_from_catalog(cat, gpu=c.gpu, server=args.server, fabric=c.fabric, rails=args.rails,
                                          gpus_per_node=args.gpus_per_node, oversubscription=args.oversubscription,
                                          nodes_per_leaf=args.nodes_per_leaf, measured_inter=measured,
                                          measured_a2a=a2a)
        if measured is not None:
            notes = [*notes, f"scale-out fabric: {measured.source} (replaces the {c.fabric or 'fabric'} prior)"]
        if a2a is not None:
            notes = [*notes, f"expert-parallel all-to-all across nodes: {a2a.source} (replaces the prior)"]
        cache[key] = (hw, notes)
    return cache[key]


def _train(card, spec, hw, c, notes):
    """The training projection of one combination."""
    from raxlab.predict import api

    layout = _layout(c, spec)
    return api.predict_card_training(card, hw, layout, c.precision, gpus=c.gpus or layout.gpus, seq=c.seq_len,
                                     data_s_per_sample=None, assumptions=api_notes(notes, c.precision),
                                     moe_imbalance=c.moe_imbalance)


def _measured_fabric(args):
    """The measured α-β fits of `--comm-run` as (all-reduce, all-to-all or None), or None."""
    if not args.comm_run:
        return None
    from raxlab.predict.commfit import comm_fit_from_run, has_fit
    from raxlab.store import Store

    db, want = Store(args.store, readonly=True), {"transport": args.comm_transport, "ranks": args.comm_ranks}
    inter = comm_fit_from_run(db, args.comm_run, **want)
    a2a = comm_fit_from_run(db, args.comm_run, "all_to_all", **want) \
        if has_fit(db, args.comm_run, "all_to_all", **want) else None
    return inter, a2a


def api_notes(notes: list[str], precision: str) -> list[str]:
    """Keep the assumption notes that concern this run's precision."""
    others = ("fp32", "tf32", "bf16", "fp16", "fp8")
    return [n for n in notes if not any(f"matmul:{d}" in n for d in others if d != precision)]


def _layout(args, spec):
    from raxlab.errors import RaxError
    from raxlab.predict.layout import Layout

    gpus = args.gpus
    model = args.tp * args.pp * args.cp
    dp = args.dp or (gpus // model if gpus else 1)
    mb = args.micro_batch or spec.micro_batch or 1
    gb = args.global_batch or spec.global_batch or mb * dp
    if dp < 1:
        raise RaxError(f"tp x pp x cp = {model} exceeds {gpus} GPUs", field="gpus")
    return Layout(tp=args.tp, pp=args.pp, dp=dp, micro_batch=mb, global_batch=gb, vpp=args.vpp,
                  zero=3 if args.fsdp else args.zero, recompute=args.recompute,
                  sequence_parallel=args.sequence_parallel, attention=args.attention,
                  overlap_grad_reduce=not args.no_overlap_grad_reduce, zero3_gather=args.zero3_gather,
                  tp_overlap=args.tp_overlap, lora_rank=args.lora_rank or spec.lora_rank or 0,
                  ep=args.ep, etp=args.etp, cp=args.cp, cp_comm=args.cp_comm, moe_overlap=args.moe_overlap,
                  ep_dispatch=args.ep_dispatch)


def _inference(card, hw, args, notes) -> dict:
    from raxlab.errors import RaxError
    from raxlab.predict import api
    from raxlab.predict.shape import shape_from_card

    shape = shape_from_card(card, seq=args.seq_len)
    if shape is None:
        raise RaxError("serving projection needs a transformer (the card has no layer shape)", field="workload")
    out = api.predict_inference(shape, hw, tp=args.tp, batches=args.decode_batch, prompt=args.prompt, gen=args.gen,
                                precision=args.precision)
    return {"workload": card.name, **out, "assumptions": api_notes(notes, args.precision)}


def _render_train(d: dict) -> None:
    from rich.table import Table

    from raxlab.predict.projection import fmt

    out = console()
    lay = d["layout"]
    extra = "".join(f" {k} {lay[k]}" for k in ("cp", "ep") if lay.get(k, 1) > 1)
    out.print(styled((d["workload"], "bold"), f" on {d['hardware']['name']} x {lay['tp'] * lay['pp'] * lay['cp'] * lay['dp']}"
              f" ({d['hardware']['fabric'] or 'single node'}), {d['precision']}, tp {lay['tp']} pp {lay['pp']}"
              f" dp {lay['dp']}{extra}, micro-batch {lay['micro_batch']} x {lay['grad_accum']}, "
              f"recompute {lay['recompute']}"))
    band = d["error_band"]
    step_rng = tput_rng = " (band N/A)"
    if band:  # the band is on throughput; the step time's is its reciprocal
        step_rng = f" ({100 * band['step_low']:+.0f} % / {100 * band['step_high']:+.0f} %)"
        tput_rng = f" ({100 * band['low']:+.0f} % / {100 * band['high']:+.0f} %)"
    out.print(f"step {fmt(d['step_time_s'], ' s')}{step_rng}   tokens/s {fmt(d['tokens_per_s'])}{tput_rng}   samples/s "
              f"{fmt(d['samples_per_s'])}   {fmt(d['tflops_per_gpu'])} TFLOP/s/GPU   MFU {fmt(_pct(d['mfu']), ' %', 3)}")
    if band:
        how = (f"{100 * band['level']:.0f} % band from {band['n']} published runs ({band['slice']})" if band["validated"]
               else f"NOT VALIDATED on this generation: widest band ({band['slice']})")
        out.print(f"error band: {how}", style="dim")
    out.print(f"memory per GPU {fmt(d['memory_per_gpu_gib'], ' GiB')}  fits: {'yes' if d['fits'] else 'NO'}  ("
              + ", ".join(f"{k} {fmt(v, '', 3)}" for k, v in d["memory_gib"].items() if k != "total") + ")")
    t = Table(title="step time terms (seconds per step; exposed time only)")
    t.add_column("term")
    t.add_column("seconds", justify="right")
    t.add_column("share", justify="right")
    for name, v in d["terms_s"].items():
        t.add_row(name, fmt(v), fmt(_pct(v / d["step_time_s"]) if v is not None else None, " %", 3))
    out.print(t)
    for note in d["assumptions"]:
        out.print(f"- {note}", style="dim")


def _render_infer(d: dict) -> None:
    from rich.table import Table

    from raxlab.predict.projection import fmt

    t = Table(title=f"{d['workload']} serving on {d['hardware']['name']}, tp {d['tp']}, {d['precision']}, "
                    f"prompt {d['prompt']} + {d['gen']} generated (error band N/A: not validated yet)")
    for c in ("batch", "prefill s", "TPOT s", "latency s", "out tok/s", "tok/s/GPU", "tok/s/user", "KV GiB",
              "mem GiB", "fits"):
        t.add_column(c, justify="right")
    for r in d["per_batch"]:
        t.add_row(str(r["batch"]), fmt(r["ttft_s"]), fmt(r["tpot_s"]), fmt(r["request_latency_s"]),
                  fmt(r["output_tokens_per_s"]), fmt(r["tokens_per_s_per_gpu"]), fmt(r["tokens_per_s_per_user"]),
                  fmt(r["kv_cache_gib"], "", 3), fmt(r["memory_per_gpu_gib"], "", 3), "yes" if r["fits"] else "NO")
    console().print(t)


def _pct(x):
    return None if x is None else 100 * x
