"""What a plan document is: its schema name and the provenance labels its numbers carry.

Below `planner.py`, `serve.py` and `detail.py`, which all write plans.
"""

SCHEMA = "raxlab.plan/1"

LABELS = {
    "projected": "time, throughput, MFU and memory: the projection model (error band per number), from catalogue "
                 "peaks and published-efficiency priors unless a measured fit/calibration is named",
    "measured": "numbers from the customer's stored runs (fabric fits, compute calibration, A/B), named with the run",
    "catalogue": "prices, power and sizes with a published source in the catalogue",
    "estimate": "catalogue or planner numbers without a public source, each with its reasoning",
    "override": "numbers from the customer's catalogue override file",
}
