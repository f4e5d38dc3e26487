"""The workload card: hardware-independent facts about the model, counted from one traced step."""

from __future__ import annotations

from raxlab.report import fmt
from raxlab.report.doc import Bullets, Para, Section, kv_table
from raxlab.report.model import ReportData
from raxlab.report.sections.common import card_label


def build(data: ReportData) -> Section:
    sec = Section("card", "The workload card")
    card = data.card
    if not card:
        return sec.missing("No workload card is stored with this run (N/A).")
    lab = card_label()
    rows = [("model", fmt.text(card.get("model") or card.get("name"))), ("kind / task", f"{card.get('kind')} / {card.get('task')}"),
            ("parameters", fmt.count(card.get("params"))), ("trainable parameters", fmt.count(card.get("trainable_params"))),
            ("training FLOPs per sample (fwd+bwd)", fmt.si(card.get("train_flops_per_sample"), "FLOP")),
            ("forward FLOPs per sample", fmt.si(card.get("fwd_flops_per_sample"), "FLOP")),
            ("activation bytes per sample (saved for backward)", fmt.nbytes(card.get("activation_bytes_per_sample"))),
            ("weight bytes", fmt.nbytes(card.get("weight_bytes"))), ("gradient bytes", fmt.nbytes(card.get("gradient_bytes"))),
            ("optimizer state bytes", fmt.nbytes(card.get("optimizer_state_bytes"))),
            ("bytes per sample on disk", fmt.nbytes(card.get("sample_bytes"))),
            ("tokens per sample", fmt.text(card.get("tokens_per_sample")))]
    for cls, v in (card.get("flops_by_class") or {}).items():
        rows.append((f"training FLOPs per sample: {cls}", fmt.si(v, "FLOP")))
    if card.get("layer_shape"):
        rows.append(("layer shape", fmt.text(card["layer_shape"])))
    sec.add(Para("Hardware-independent facts about your model, counted from one traced training step."),
            kv_table(rows, lab))
    notes = card.get("notes") or []
    if notes:
        sec.add(Bullets([str(n) for n in notes]))
    return sec
