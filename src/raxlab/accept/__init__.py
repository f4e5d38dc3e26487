"""Acceptance test of a delivered cluster: `rax accept PLAN.json`.

    target = plan.read_plan("plan.json")                      # what was bought and projected
    runs = run.measure(target, cat, AcceptOptions(...), store) # re-measure over the plan's nodes
    result = report.acceptance(target, {"comm": r1, "ddp": r2}, cat, commands)
    report.write(result, out_dir)                             # acceptance.json + acceptance.html

Checks and tolerances: `checks` (fabric bus bandwidth vs the catalogue fabric's line rate x
effective fraction, compute step per GPU, DDP step and throughput vs the plan's projection
within its error band; memory shown, not judged). The verdict is fail when any check
fails (each failure named with measured, projected and tolerance), incomplete when a
check could not be compared, else pass. `emulated` makes the plan for an emulated cluster
(network namespaces), which `rax plan` cannot size.
"""
