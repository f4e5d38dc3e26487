"""`rax predict`: project a workload onto one explicit candidate cluster and layout."""

from raxlab.cli.common import add_json, add_store, console, emit

COMMAND = "predict"
HELP = "project step time, throughput, memory and error band of a workload on a candidate cluster"
ORDER = 40


def add_arguments(p):
    p.add_argument("--workload", required=True, help="a WorkloadSpec YAML file or a preset name (see `rax presets`)")
    p.add_argument("--trust-code", action="store_true", help="allow the workload to run your own Python code")
    hw = p.add_argument_group("hardware (catalogue names: `rax catalog list`)")
    hw.add_argument("--gpu", required=True, help="accelerator, e.g. h100-sxm")
    hw.add_argument("--server", help="server design (default: the first that takes the GPU)")
    hw.add_argument("--gpus", type=int, help="total GPUs (default: tp x pp x dp)")
    hw.add_argument("--gpus-per-node", type=int, help="GPUs per node (default: the server's)")
    hw.add_argument("--fabric", help="scale-out fabric, e.g. ib-ndr, roce-400, tcp-100")
    hw.add_argument("--rails", type=int, help="NICs per node on the fabric (default: one per GPU)")
    hw.add_argument("--oversubscription", type=float, default=1.0, help="fat-tree taper above the leaf (default 1)")
    hw.add_argument("--nodes-per-leaf", type=int, default=0, help="nodes under one leaf switch (0: non-blocking)")
    hw.add_argument("--comm-run", metavar="RUN", help="a stored `rax bench comm` run whose measured all-reduce alpha-beta "
                    "replaces the fabric prior (its busbw taken as each GPU's share of the scale-out fabric)")
    hw.add_argument("--comm-transport", help="with --comm-run: which measured transport (when it holds several)")
    hw.add_argument("--comm-ranks", type=int, help="with --comm-run: which measured rank count (when several)")
    lay = p.add_argument_group("layout")
    for flag in ("--tp", "--pp"):
        lay.add_argument(flag, type=int, default=1)
    lay.add_argument("--dp", type=int, help="data parallel (default: gpus / (tp x pp))")
    lay.add_argument("--vpp", type=int, default=1, help="model chunks per pipeline stage (interleaved 1F1B)")
    lay.add_argument("--micro-batch", type=int, help="sequences per micro-batch (default: the workload's)")
    lay.add_argument("--global-batch", type=int, help="sequences per optimizer step (default: the workload's)")
    lay.add_argument("--seq-len", type=int, help="tokens per sequence (default: the workload's)")
    lay.add_argument("--precision", default="bf16", help="fp32, tf32, bf16, fp16 or fp8 (default bf16)")
    lay.add_argument("--recompute", default="none", help="none, selective or full activation recomputation")
    lay.add_argument("--zero", type=int, default=0, help="ZeRO stage 0-3")
    lay.add_argument("--fsdp", action="store_true", help="FSDP full sharding (= ZeRO-3)")
    lay.add_argument("--zero3-gather", default="prefetch", choices=("prefetch", "blocking"),
                     help="ZeRO-3 weight gathers: prefetch (FSDP-style, overlapped; default) or blocking "
                          "(serial per-parameter gathers, DeepSpeed ZeRO-3 of 2021)")
    lay.add_argument("--sequence-parallel", action="store_true", help="Megatron sequence parallelism with TP")
    lay.add_argument("--attention", default="flash", help="flash (FA2-class), flash1 or unfused")
    lay.add_argument("--no-overlap-grad-reduce", action="store_true", help="DP gradient sync after backward")
    inf = p.add_argument_group("inference (--infer)")
    inf.add_argument("--infer", action="store_true", help="project serving instead of training")
    inf.add_argument("--batch", type=int, nargs="+", default=[1, 8, 32, 128], help="decode batch sizes")
    inf.add_argument("--prompt", type=int, default=1024, help="prompt tokens per request")
    inf.add_argument("--gen", type=int, default=256, help="generated tokens per request")
    add_json(p)
    add_store(p)


def run(args) -> int:
    from raxlab.catalog import load_catalog
    from raxlab.predict import api
    from raxlab.predict.adapter import hardware_from_catalog
    from raxlab.workload import build_card, load_workload

    wl = load_workload(args.workload, trust_code=args.trust_code)
    measured = _measured_fabric(args)
    hw, notes = hardware_from_catalog(load_catalog(), gpu=args.gpu, server=args.server, fabric=args.fabric,
                                      rails=args.rails, gpus_per_node=args.gpus_per_node,
                                      oversubscription=args.oversubscription, nodes_per_leaf=args.nodes_per_leaf,
                                      measured_inter=measured)
    if measured is not None:
        notes = [*notes, f"scale-out fabric: {measured.source} (replaces the {args.fabric or 'fabric'} prior)"]
    card = build_card(wl)
    if args.infer:
        emit(args, _inference(api, card, hw, args, notes), _render_infer)
        return 0
    layout = _layout(args, wl.spec)
    proj = api.predict_card_training(card, hw, layout, args.precision, gpus=args.gpus or layout.gpus,
                                     seq=args.seq_len, data_s_per_sample=None,
                                     assumptions=api_notes(notes, args.precision))
    emit(args, {"workload": wl.name, **proj.to_dict()}, _render_train)
    return 0


def _measured_fabric(args):
    """The measured α-β of `--comm-run`, or None."""
    if not args.comm_run:
        return None
    from raxlab.predict.commfit import comm_fit_from_run
    from raxlab.store import Store

    return comm_fit_from_run(Store(args.store), args.comm_run, transport=args.comm_transport, ranks=args.comm_ranks)


def api_notes(notes: list[str], precision: str) -> list[str]:
    """Keep the assumption notes that concern this run's precision."""
    others = ("fp32", "tf32", "bf16", "fp16", "fp8")
    return [n for n in notes if not any(f"matmul:{d}" in n for d in others if d != precision)]


def _layout(args, spec):
    from raxlab.errors import RaxError
    from raxlab.predict.layout import Layout

    gpus = args.gpus
    dp = args.dp or (gpus // (args.tp * args.pp) if gpus else 1)
    mb = args.micro_batch or spec.micro_batch or 1
    gb = args.global_batch or spec.global_batch or mb * dp
    if dp < 1:
        raise RaxError(f"tp x pp = {args.tp * args.pp} exceeds {gpus} GPUs", field="gpus")
    return Layout(tp=args.tp, pp=args.pp, dp=dp, micro_batch=mb, global_batch=gb, vpp=args.vpp,
                  zero=3 if args.fsdp else args.zero, recompute=args.recompute,
                  sequence_parallel=args.sequence_parallel, attention=args.attention,
                  overlap_grad_reduce=not args.no_overlap_grad_reduce, zero3_gather=args.zero3_gather)


def _inference(api, card, hw, args, notes) -> dict:
    from raxlab.errors import RaxError
    from raxlab.predict.shape import shape_from_card

    shape = shape_from_card(card, seq=args.seq_len)
    if shape is None:
        raise RaxError("serving projection needs a transformer (the card has no layer shape)", field="workload")
    out = api.predict_inference(shape, hw, tp=args.tp, batches=args.batch, prompt=args.prompt, gen=args.gen,
                                precision=args.precision)
    return {"workload": card.name, **out, "assumptions": api_notes(notes, args.precision)}


def _render_train(d: dict) -> None:
    from rich.table import Table

    from raxlab.predict.projection import fmt

    out = console()
    lay = d["layout"]
    out.print(f"[bold]{d['workload']}[/bold] on {d['hardware']['name']} x {lay['tp'] * lay['pp'] * lay['dp']}"
              f" ({d['hardware']['fabric'] or 'single node'}), {d['precision']}, tp {lay['tp']} pp {lay['pp']}"
              f" dp {lay['dp']}, micro-batch {lay['micro_batch']} x {lay['grad_accum']}, recompute {lay['recompute']}")
    band = d["error_band"]
    rng = f" (band {100 * band['low']:+.0f} % / {100 * band['high']:+.0f} %)" if band else " (band N/A)"
    out.print(f"step {fmt(d['step_time_s'], ' s')}{rng}   tokens/s {fmt(d['tokens_per_s'])}   samples/s "
              f"{fmt(d['samples_per_s'])}   {fmt(d['tflops_per_gpu'])} TFLOP/s/GPU   MFU {fmt(_pct(d['mfu']), ' %', 3)}")
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
        out.print(f"[dim]- {note}[/dim]")


def _render_infer(d: dict) -> None:
    from rich.table import Table

    from raxlab.predict.projection import fmt

    t = Table(title=f"{d['workload']} serving on {d['hardware']['name']}, tp {d['tp']}, {d['precision']}, "
                    f"prompt {d['prompt']} + {d['gen']} generated (error band N/A: not validated yet)")
    for c in ("batch", "TTFT s", "s/token", "latency s", "out tok/s", "KV GiB", "mem GiB", "fits"):
        t.add_column(c, justify="right")
    for r in d["per_batch"]:
        t.add_row(str(r["batch"]), fmt(r["ttft_s"]), fmt(r["tpot_s"]), fmt(r["request_latency_s"]),
                  fmt(r["output_tokens_per_s"]), fmt(r["kv_cache_gib"], "", 3), fmt(r["memory_per_gpu_gib"], "", 3),
                  "yes" if r["fits"] else "NO")
    console().print(t)


def _pct(x):
    return None if x is None else 100 * x
