"""The model's back-test on this machine (`rax calibrate`): fitted on some measured points,
asked to predict the others. Its held-out error is the honest error band for this hardware."""

from __future__ import annotations

from raxlab.report import fmt
from raxlab.report.doc import Cell, Column, Heading, Label, Para, Table, cell

TITLES = {"compute": "compute step", "bench.comm": "collectives"}


def held_out_error(cal: dict | None) -> float | None:
    """Median |relative error| on the held-out points (None when not recorded)."""
    return fmt.num(((cal or {}).get("held_out") or {}).get("median_abs"))


def table(cal: dict) -> Table:
    meas = Label("measured", f"run {cal.get('run')}")
    model = Label("projected", "the model fitted on the 'fit' rows")
    rows = []
    for r in cal.get("rows") or []:
        if isinstance(r, dict):
            rows.append([Cell(str(r.get("label"))), Cell(str(r.get("role") or "")),
                         cell(fmt.seconds(r.get("measured_s")), value=r.get("measured_s")),
                         cell(fmt.seconds(r.get("predicted_s")), value=r.get("predicted_s")),
                         cell(fmt.signed_pct(r.get("error")), value=r.get("error")),
                         Cell("noisy" if r.get("noisy") else "")])
    return Table([Column("point"), Column("role"), Column("measured", meas, True), Column("model", model, True),
                  Column("error", model, True), Column("note")], rows,
                 f"{TITLES.get(cal.get('kind'), cal.get('kind'))}: fitted on {len(cal.get('fit_on') or []) or 'some'} "
                 "point(s), the held-out rows test the model.")


def blocks(calibrations: list[dict]) -> list:
    out = [Heading("Back-test of the model on this machine")]
    if not calibrations:
        return out + [Para("No calibration in this run: the projections use priors, and the model's error on this "
                           "hardware is not known (N/A). `rax calibrate RUN` measures it.", "missing")]
    for cal in calibrations:
        ho = (cal.get("held_out") or {})
        out.append(Para(f"{TITLES.get(cal.get('kind'), cal.get('kind'))}: median |error| on {fmt.text(ho.get('n'))} "
                        f"held-out point(s) {fmt.pct(ho.get('median_abs'))}, worst {fmt.pct(ho.get('max_abs'))}.",
                        "verdict"))
        out.append(table(cal))
        out += [Para(str(n), "note") for n in cal.get("notes") or [] if n]
    return out
