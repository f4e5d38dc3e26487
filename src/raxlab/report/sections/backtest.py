"""The model's back-test on this machine (`rax calibrate`): fitted on some measured points,
asked to predict the others. Its held-out error is the honest error band for this hardware."""

from __future__ import annotations

from raxlab.report import fmt
from raxlab.report.doc import Cell, Column, Heading, Label, Para, Table, cell

TITLES = {"compute": "compute step", "bench.comm": "collectives", "train-log": "training log (imported)"}


def held_out_error(cal: dict | None) -> float | None:
    """Median |relative error| on the held-out points (None when not recorded)."""
    return fmt.num(((cal or {}).get("held_out") or {}).get("median_abs"))


def table(cal: dict) -> Table:
    imported = cal.get("kind") == "train-log"
    meas = Label("measured", f"imported {cal.get('framework')} log, run {cal.get('run')}" if imported
                 else f"run {cal.get('run')}")
    model = Label("projected", "from priors for the stated layout; nothing fitted to these rows" if imported
                  else "the model fitted on the 'fit' rows")
    rows = []
    for r in cal.get("rows") or []:
        if isinstance(r, dict):
            rows.append([Cell(str(r.get("label"))), Cell(str(r.get("role") or "")),
                         _quantity(r, "measured_s", "measured"), _quantity(r, "predicted_s", "projected"),
                         cell(fmt.signed_pct(r.get("error")), value=r.get("error")),
                         Cell("noisy" if r.get("noisy") else "")])
    return Table([Column("point"), Column("role"), Column("measured", meas, True), Column("model", model, True),
                  Column("error", model, True), Column("note")], rows,
                 f"{TITLES.get(cal.get('kind'), cal.get('kind'))}: the customer's own run against the projection "
                 "(error = projected / measured - 1)." if imported else
                 f"{TITLES.get(cal.get('kind'), cal.get('kind'))}: fitted on {len(cal.get('fit_on') or []) or 'some'} "
                 "point(s), the held-out rows test the model.")


def _quantity(r: dict, seconds_key: str, other_key: str) -> Cell:
    """Seconds as seconds; a rate (imported training logs: TFLOP/s, tokens/s) with its unit."""
    if r.get(seconds_key) is not None or r.get(other_key) is None:
        return cell(fmt.seconds(r.get(seconds_key)), value=r.get(seconds_key))
    return cell(fmt.g(r.get(other_key), 4, str(r.get("unit") or "")), value=r.get(other_key))


def blocks(calibrations: list[dict]) -> list:
    out = [Heading("Back-test of the model on this machine")]
    if not calibrations:
        return out + [Para("No calibration in this run: the projections use priors, and the model's error on this "
                           "hardware is not known (N/A). `rax calibrate RUN` measures it.", "missing")]
    for cal in calibrations:
        ho = (cal.get("held_out") or {})
        which = "imported" if cal.get("kind") == "train-log" else "held-out"
        out.append(Para(f"{TITLES.get(cal.get('kind'), cal.get('kind'))}: median |error| on {fmt.text(ho.get('n'))} "
                        f"{which} point(s) {fmt.pct(ho.get('median_abs'))}, worst {fmt.pct(ho.get('max_abs'))}.",
                        "verdict"))
        out.append(table(cal))
        out += [Para(str(n), "note") for n in cal.get("notes") or [] if n]
    return out
