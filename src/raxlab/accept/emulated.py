"""A plan for an emulated cluster (network namespaces on one host), for `rax accept` to check.

`rax plan` sizes GPU clusters from the catalogue: it has no CPU accelerator, and an override
that poses a CPU as one is outside what its search was built for, so it cannot make the plan
for the emulated cluster. This module makes that plan honestly from the two sources a plan
has, in the plan file's own schema (raxlab.plan/1, `acceptance` block), labelled as such:

- the network from the catalogue: the emulated fabric is a catalogue (override) fabric
  `emulated-<rate>` with its line rate and effective fraction (`override_yaml`), exactly
  how a real fabric enters a plan;
- the compute from a measurement (a lab run of `rax bench ddp` on the same kind of node):
  the 1-rank step is the compute step per node; the DDP step is projected with the predict
  layer's DDP model (`predict.ddp.predict_ddp_step`: the measured no_sync step + the bucketed
  ring all-reduce on the fabric's α and busbw).

    ov = override_yaml("1gbit")                      # write it, pass it as --catalog-override
    plan = emulated_plan(store.get_run(lab), load_catalog(ov_path), rate="1gbit", nodes=2)
"""

from __future__ import annotations

from raxlab.errors import RaxError

# gloo over a tbf-shaped veth: benchmarks/bench_comm.py targets busbw >= 0.90 of the link rate;
# netemu/shaping.py measured 93 % at 1 gbit with its bucket. The band covers host interference.
FRACTION = {"value": 0.92, "low": 0.85, "high": 0.98}
LATENCY_US = 100  # veth + gloo round trip order of magnitude; latency is not emulated (no netem)
# Emulated nodes share the host's cores with each other (and, on a shared machine, with other
# work): repeated runs of the same 1-rank tiny-lm step measured 0.23-0.37 s here (load ~6 on 2
# cores), so the band is that spread, not a model error. A real cluster's plan uses the model's.
BAND = {"low": -0.35, "high": 0.35, "median_abs": 0.15,
        "basis": "estimate: spread of repeated CPU step measurements on a shared host (emulated nodes share its "
                 "cores); the DDP overlap model's own error is smaller (benchmarks/bench_predict_backtest.py)"}


def fabric_name(rate: str) -> str:
    return f"emulated-{rate.lower()}"


def override_yaml(rate: str, as_of: str = "2026-11-28") -> str:
    """Catalogue override: the emulated fabric of `rate` (tc units, e.g. 1gbit) and its NIC."""
    from raxlab.netemu.shaping import parse_rate

    gbit = parse_rate(rate, "rate") / 1e9
    name, nic = fabric_name(rate), f"emu-veth-{rate.lower()}"
    est = "rax netemu: network namespaces joined by veth pairs to a bridge, shaped by tc tbf both ways"
    fr = FRACTION
    return f"""# Emulated fabric for `rax accept` on network namespaces (raxlab.accept.emulated).
nics:
  - name: {nic}
    title: veth shaped to {rate}
    vendor: generic
    protocols: [ethernet]
    rdma: false
    gpudirect_rdma: false
    estimate: "{est}"
    as_of: {as_of}
    ports: 1
    port_rate_gbit_s: {gbit:g}
    price_usd: {{value: 0, basis: estimate, estimate: "virtual interface", as_of: {as_of}}}
fabrics:
  - name: {name}
    title: emulated {rate} links (netns + veth + tc tbf; gloo over TCP)
    family: ethernet
    transport: tcp
    gpudirect_rdma: false
    estimate: "{est}"
    as_of: {as_of}
    line_rate_gbit_s: {gbit:g}
    effective_fraction: {{value: {fr['value']}, low: {fr['low']}, high: {fr['high']}, estimate: "gloo busbw over tbf \
links: benchmarks/bench_comm.py targets >= 0.90 of the rate, netemu/shaping.py measured 0.93", as_of: {as_of}}}
    latency_us: {{value: {LATENCY_US}, estimate: "veth + gloo; latency is not emulated", as_of: {as_of}}}
    cpu_cores_per_gbyte_s: 1
    nics: [{nic}]
    switches: [generic-tor-10g]
    cable_short: dac-10g-sfp
    cable_long: optics-10g-link
"""


def _median(d: dict, key: str) -> float:
    v = (d.get(key) or {}).get("median")
    if v is None:
        raise RaxError(f"the lab run has no {key}; run `rax bench ddp` with its 1-rank and no_sync steps",
                       field="run")
    return float(v)


def emulated_plan(lab: dict, cat, *, rate: str, nodes: int) -> dict:
    """The plan (raxlab.plan/1) for `nodes` emulated nodes of one rank on links of `rate`."""
    from raxlab.predict.ddp import predict_ddp_step
    from raxlab.predict.hardware import CommFit

    d, setup, p = lab["artifacts"]["ddp"], lab["artifacts"]["ddp_setup"], lab["params"]
    fab = cat.fabric(fabric_name(rate))
    fit = CommFit(alpha_s=fab.latency_s, busbw_Bps=fab.effective_Bps, source=f"catalogue override {fab.name}")
    ddp = predict_ddp_step(_median(d, "nosync_step"), fit, nodes, bucket_bytes=setup["bucket_sizes_bytes"])
    mb = int(setup["batch_per_rank"])
    gb = nodes * mb
    cpu = ((lab.get("fingerprints") or {}).get("host") or {}).get("cpu", {}).get("model", "CPU")
    lay = {"tp": 1, "pp": 1, "dp": nodes, "micro_batch": mb, "global_batch": gb, "zero": 0, "grad_accum": 1}
    step = float(ddp.step_s)
    projected = {"step_time_s": step, "samples_per_s": gb / step, "compute_step_s": _median(d, "single_step"),
                 "tokens_per_s": gb * setup["tokens_per_sample"] / step if setup.get("tokens_per_sample") else None,
                 "memory_per_gpu_gib": None, "error_band": BAND,
                 "ddp_model": {k: float(v) for k, v in ddp.to_dict().items()}}
    acc = {"workload": lab["workload"], "accelerator": f"emulated node ({cpu})", "server": "network namespace",
           "nodes": nodes, "gpus": nodes, "gpus_per_node": 1, "fabric": fab.name, "rails": 1,
           "precision": p["precision"], "layout": lay, "seq_len": (lab.get("spec") or {}).get("seq_len"),
           "projected": projected, "label": "projected"}
    rec = {k: acc[k] for k in ("accelerator", "server", "nodes", "gpus", "gpus_per_node", "fabric", "rails",
                               "precision", "layout")}
    rec.update(step_time_s=step, comm_basis=f"catalogue override {fab.name}: {fab.line_rate_gbit_s:g} Gb/s x "
               f"{fab.effective_fraction:.2f}", compute_basis=f"measured: run {lab['id']} (1-rank and no_sync steps)",
               projection={"error_band": BAND, "terms": {}})
    return {"schema": "raxlab.plan/1", "made_by": "raxlab.accept.emulated (rax plan sizes no CPU nodes)",
            "workload": {"ref": lab["workload"]}, "recommendation": rec, "acceptance": acc,
            "assumptions": [f"the emulated nodes share one host's {cpu}: their compute steps are not independent",
                            "latency is not emulated (no netem): only the link rate"]}
