"""`rax card WORKLOAD`: the workload card (parameters, FLOPs, bytes, activations) from one traced step."""

from raxlab import fmt
from raxlab.cli.common import add_json, add_workload, console, emit, styled

COMMAND = "card"
HELP = "characterise a workload: params, FLOPs and bytes per op class, activations, from one traced step"
ORDER = 20
DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


def add_arguments(p):
    add_workload(p)
    p.add_argument("--dtype", choices=sorted(DTYPES), default="fp32",
                   help="element type of the traced step (bytes scale with it; FLOPs do not); default fp32")
    p.add_argument("--full-depth", action="store_true",
                   help="trace every layer instead of extrapolating from 1 and 2 layers (slower)")
    add_json(p)


def run(args) -> int:
    from raxlab.workload.cardcache import card_for

    # traced afresh (its trace time is what this command shows) and kept for `rax predict` / `rax plan`
    card, _ = card_for(args.workload, trust_code=args.trust_code, dtype=DTYPES[args.dtype],
                       extrapolate=not args.full_depth, refresh=True)
    emit(args, card.to_dict(), _render)
    return 0


def si(value, unit: str = "") -> str:
    """1234567 -> '1.23 M' (decimal prefixes: FLOPs and traffic bytes in SI, GB = 1e9 B)."""
    return fmt.si(value, unit)


def count(n: int) -> str:
    """Parameter counts the way model cards write them: 8.03 B, 1.7 M."""
    return fmt.count(n)


def _render(card: dict) -> None:
    from rich.table import Table

    out = console()
    out.print(styled((f"workload card: {card['name']}", "bold"), f"  ({card['kind']}, {card['task']}, {card['model']}"
                     f"{', meta-only' if card['meta_only'] else ''})"))
    head = Table(show_header=False)
    head.add_column("what")
    head.add_column("value", justify="right")
    for label, value in _summary_rows(card):
        head.add_row(label, value)
    out.print(head)
    out.print(_class_table(card))
    if card["layer_shape"]:
        out.print("layer shape: " + ", ".join(f"{k} {v}" for k, v in card["layer_shape"].items()))
    trace = card["trace"]
    out.print(f"traced on {trace['device']} in {trace['dtype']}, batches {trace['batches']},"
              f" layers {trace['layers'] or 'all'}, {trace['seconds']} s")
    for note in card["notes"]:
        out.print(f"- {note}", style="dim")


def _summary_rows(card: dict) -> list[tuple[str, str]]:
    return [
        ("parameters (trainable)", f"{count(card['params'])} ({count(card['trainable_params'])})"),
        ("train FLOPs / sample (fwd+bwd)", si(card["train_flops_per_sample"], "FLOP")),
        ("forward FLOPs / sample", si(card["fwd_flops_per_sample"], "FLOP")),
        ("activations saved / sample", si(card["activation_bytes_per_sample"], "B")),
        ("weights / gradients", f"{si(card['weight_bytes'], 'B')} / {si(card['gradient_bytes'], 'B')}"),
        ("optimizer state (Adam)", si(card["optimizer_state_bytes"], "B")),
        ("optimizer step traffic", si(card["optimizer_step_bytes"], "B")),
        ("tokens / sample", str(card["tokens_per_sample"] or "-")),
        ("sample on disk / decode", f"{si(card['sample_bytes'], 'B')} / " + (
            "N/A" if card["decode_s_per_sample"] is None else f"{card['decode_s_per_sample'] * 1e6:.1f} us")),
    ]


def _class_table(card: dict):
    from rich.table import Table

    t = Table(title="per op class (per sample; fixed = per step, independent of batch)")
    for col in ("class", "train FLOPs", "fwd FLOPs", "train bytes", "fwd bytes", "fixed bytes"):
        t.add_column(col, justify="left" if col == "class" else "right")
    for cls in card["bytes_by_class"]:
        t.add_row(cls, si(card["flops_by_class"].get(cls), "FLOP") if cls in card["flops_by_class"] else "-",
                  si(card["fwd_flops_by_class"].get(cls), "FLOP") if cls in card["fwd_flops_by_class"] else "-",
                  si(card["bytes_by_class"][cls], "B"), si(card["fwd_bytes_by_class"][cls], "B"),
                  si(card["bytes_fixed_by_class"][cls], "B"))
    return t
