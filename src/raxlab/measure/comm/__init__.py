"""Collective communication: nccl-tests-style sweeps, transports, launch and the α-β fit.

Parent side (`rax bench comm`, A/B tests, `rax launch`):
    driver.run_comm(sweep, ranks=, emulate=, ...)   the whole benchmark, stored point by point
    launch.launch(LaunchSpec(module, args, ranks=, env=, fabric=, timeout_s=), on_event)
                                                    any worker module on N ranks, watched
Rank side (any worker module):
    rank.init_distributed(backend, timeout_s), rank.emit(event), rank.worker_main(main)
Pure pieces: collectives (specs, busbw factors), fit (α-β), nccl_log (transport proof).
Worker entry point for torchrun/srun: `python -m raxlab.measure.comm.worker --help`.
"""
