"""The serving front chart: tokens/s per GPU against tokens/s per user, every number labelled projected."""

from raxlab.report.sections.pareto import serving_chart


def _plan():
    pts = [{"accelerator": "h100-sxm", "precision": "bf16", "tp": tp, "batch": b, "tokens_per_s_per_gpu": g,
            "tokens_per_s_per_user": u, "ttft_p99_s": 0.2, "tpot_s": 1 / u, "recommended": b == 16}
           for tp, b, g, u in ((1, 64, 2600.0, 150.0), (2, 16, 1500.0, 400.0), (4, 1, 90.0, 800.0))]
    return {"serving": {"pareto": {"points": pts}, "sla": {"ttft_p99_s": 0.5, "tpot_s": 0.01},
                        "band": "N/A: inference projections have no published validation yet, so no error band"},
            "recommendation": {"tokens_per_s_per_gpu": 1500.0, "tokens_per_s_per_user": 400.0}}


def test_the_chart_has_the_front_the_star_and_labelled_cells():
    ch = serving_chart(_plan())
    assert ch is not None and "tokens/s per user" in ch.svg and "recommended" in ch.svg
    assert "TTFT p99 <=" in ch.caption and "no published validation" in ch.caption
    rows = ch.data.rows
    assert len(rows) == 3 and [r[0].text for r in rows][0].endswith("batch 64")  # sorted by tokens/s per user
    assert all(c.label is not None and c.label.kind == "projected" for r in rows for c in r[1:])


def test_no_serving_front_no_chart():
    assert serving_chart({}) is None
    assert serving_chart({"serving": {"pareto": None}}) is None
