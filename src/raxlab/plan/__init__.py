"""Planner: from a workload's targets, its card, the catalogue and (optionally) measurements to a
purchase guideline — what to buy, how many, which network and precision, what it costs, why.

Entry points::

    from raxlab.plan.entry import plan_workload            # what `rax plan` calls
    plan = plan_workload("llama3-8b", load_catalog(), runs=["latest"], targets=["deadline_days=30"])

    from raxlab.plan.planner import make_plan, PlanOptions  # with a spec and a card in hand
    plan = make_plan(spec, card, catalog, workload_ref="llama3-8b", measured=None, options=PlanOptions())

Pipeline (one module each): `objective` (targets -> work, deadline / throughput / request rate,
caps, TCO inputs; defaults from `data/defaults.yaml`, labelled) -> `space` (accelerator x server
x precision bases and fabric x rails variants, pruned with reasons) -> `search` (best parallel
layout per hardware option, vectorised, two stages) -> `cost` (CAPEX from catalogue parts and
the fat-tree, power, energy, TCO) -> `options` (the table; choose under a scenario; Pareto) ->
`network` / `verdicts` (network, precision, accelerator, scale) -> `sensitivity` -> `detail`
(projection, CAPEX lines with sources, closest-candidate remedies, acceptance block, guideline).
`serve` sizes inference; `measured` reads stored runs (fabric fits, compute calibration, A/B).

The plan (a JSON-ready dict; `rax plan --json`, the file `rax accept` reads), top-level keys in
`planner.PLAN_KEYS`:

    schema          "raxlab.plan/1"
    workload        ref, name, task, kind, params, seq_len, global_batch, micro_batch, precisions
    objective       task, unit, work, deadline_s (+ deadline_assumed), rate_required, caps, tco, ...
    recommendation  accelerator, server, nodes, gpus, gpus_per_node (the scale-up domain),
                    hosts_per_node and gpus_per_host (OS hosts a launcher starts: an NVL72 rack
                    is one 72-GPU node of 18 hosts x 4 GPUs), fabric, rails, nic, precision,
                    layout {tp, pp, dp, micro_batch, global_batch, vpp, zero, recompute,
                    sequence_parallel, grad_accum}, step_time_s, rate, tokens_per_s, samples_per_s,
                    time_to_target_s, time_to_target_band_s, mfu, memory_per_gpu_gib,
                    exposed_comm_share, capex_usd, tco_usd, energy_usd, it_power_kw, it_peak_kw,
                    facility_power_kw, rack_units, cost_per_unit (+ label), meets_targets,
                    shortfall, status, basis, missing (when closest), capex_breakdown [lines with
                    label/source/as_of], projection (predict's Projection.to_dict()), provenance,
                    comm_basis (prior|measured), compute_basis (prior|calibrated)
                    (inference: replicas, batch, p99_latency_s, capacity_per_replica_rps)
    verdicts        network {rows per fabric, decision, sentence, by_family, tie_threshold, basis,
                    measured}, precision {rows, sentence}, accelerator {rows, sentence},
                    scale {points, sentence}
    pareto          axes, points (recommended marked), points_on_front
    alternatives    cheapest option of each other accelerator x fabric meeting the targets
    sensitivity     rows (prices +-20 %, deadline 0.5-2x, efficiency band ends), sentence
    pruned          hardware {reason: options}, layouts {reason: candidates}, options_without_a_layout
    search          bases, node counts, options, candidates covered / evaluated, wall_s
    measured        runs, fabric_fits, calibrations, abtests, notes
    assumptions     every default and estimate the plan used, in words
    labels          what projected / measured / catalogue / estimate / override mean
    guideline       the plain sentences, most important first
    acceptance      what `rax accept` re-measures: workload, hardware, layout, precision,
                    projected step time / throughput / memory with the error band
"""
