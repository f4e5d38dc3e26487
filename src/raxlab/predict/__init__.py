"""Projection model: a workload card + a candidate cluster + a layout → step time, memory,
throughput and the model's error band. Pure functions over small SI dataclasses; runs on
any CPU. Formulas and their sources are in each module's docstring.

One candidate (what `rax predict` calls)::

    from raxlab.catalog import load_catalog
    from raxlab.predict.adapter import hardware_from_catalog
    from raxlab.predict.api import predict_card_training, predict_training, predict_inference
    from raxlab.predict.layout import Layout
    from raxlab.predict.shape import shape_from_card, TransformerShape

    hw, notes = hardware_from_catalog(load_catalog(), gpu="h100-sxm", server=None, fabric="ib-ndr",
                                      rails=8, oversubscription=1.0, nodes_per_leaf=0,
                                      measured_inter=None)          # CommFit from a measured α-β
    lay = Layout(tp=8, pp=4, dp=32, micro_batch=1, global_batch=1024, vpp=1, zero=0,
                 recompute="selective", sequence_parallel=True, attention="flash")
    proj = predict_card_training(card, hw, lay, "bf16", gpus=1024, seq=8192)   # -> Projection
    proj.step_time_s, proj.tokens_per_s, proj.mfu, proj.memory_per_gpu_gib, proj.fits,
    proj.terms (seconds per step, None = N/A), proj.error_band, proj.assumptions, proj.to_dict()
    predict_inference(shape, hw, tp=8, batches=(1, 8, 32), prompt=1024, gen=256)  # -> dict

Many candidates (the planner; ~1e6 candidates/s on one core)::

    from raxlab.predict.hardware import hw_consts, stack_hardware, take
    from raxlab.predict.vectorized import candidate_grid, evaluate_training
    hc = hw_consts(hw, "bf16")                # floats; stack_hardware([...]) for arrays of hardware
    la = candidate_grid(gpus=1024, gpus_per_node=8, global_batch=1024)   # LayoutArrays
    res = evaluate_training(shape_or_cardnums, hc, la, gpus=1024, mem_bytes=hw.mem_bytes)
    res["step_time_s"], res["tokens_per_s"], res["mfu"], res["memory_bytes"], res["fits"],
    res["problem"] (code into layout.PROBLEMS, 0 = possible), res["ok"], res["terms"][name]

ZeRO-3/FSDP (`sharded.py`): 3Ψ per GPU per micro-batch; `Layout(zero=3, zero3_gather="prefetch")`
(FSDP-style, overlapped; default, column `prefetch=1`) or `"blocking"` (DeepSpeed ZeRO-3 of 2021).

Mixture of experts and long context (`moe.py`, `context.py`): a shape with `moe` (and `mla`) blocks;
`Layout(ep=, etp=, cp=, moe_overlap=, ep_dispatch=, cp_comm=)`, world = TP·PP·CP·DP with ETP·EP
dividing TP·CP·DP (Megatron-Core MoE parallel folding); terms `expert_compute`, `ep_all_to_all`,
`expert_dp_comm`, `expert_optimizer`, `cp_comm`; `predict_training(..., moe_imbalance=)` (prior in
`data/moe.yaml`). Validation: `benchmarks/bench_moe_validation.py` on `data/validation/moe_cp_public.csv`.

Non-transformers: `generic.CardNums.from_card(card)` in place of the shape (DP/ZeRO/FSDP only).
Calibration and back-test on measured points: `calibrate.fit`, `calibrate.backtest`; on stored runs
(`rax calibrate RUN`): `calibrate_run.calibrate_compute_run(store, ref, fit_on=, holdout=)`,
`commfit.calibrate_comm_run(store, ref)`; both store artifact "calibration" on the run.
Measured fabric::

    from raxlab.predict.commfit import comm_fit_from_run
    fit = comm_fit_from_run(store, "latest", collective="all_reduce")   # CommFit (α per ring step, busbw)
    hardware_from_catalog(..., measured_inter=fit)                       # `rax predict --comm-run RUN`

DDP step from a measured single-rank step and a measured fit: `ddp.predict_ddp_step(compute_s, fit,
ranks, grad_bytes= | bucket_bytes=)`; `ddp.scale_fit(fit, 1, 2)` moves a fit to another link rate.
Priors with provenance: `data/priors.yaml`; in-training factors derived by `derive.py` from
independent runs (`data/independent_points.yaml`); error band: `data/error_band.yaml`.
"""
