"""Multi-node launches: `rax launch ... -- rax bench comm|ddp ...` over torchrun, or as a Slurm job.

Pure pieces (no torch, no processes started):
    job.parse_bench(argv, transport)          the bench command -> worker module + arguments
    cluster.ClusterSpec, node_command(...)    the exact torchrun (env + argv) a node runs
    netaddr.choose_binding(rdzv_addr, ifname) the interface and address this node binds
    slurm.sbatch_script(spec, job, opts, store) the sbatch script (srun one launch per node)
    show.describe / write_slurm               what the CLI prints and writes
Running this node's part (torch, subprocesses): `raxlab.measure.launch_cluster.execute_node`;
recording the one stored run: `raxlab.measure.launch_record`.

What binds where (nothing listens on every interface by default):
- rendezvous (c10d) store: hosted by `rax launch` on the node owning the rendezvous address,
  bound to that address (`master_listen_fd`); torchrun agents run with `is_host=0`. torch
  offers no bind-address option for its TCPStore server (it binds "::" or 0.0.0.0), so a bare
  `torchrun` on the host node would listen everywhere: this is why the host runs `rax launch`.
- process-group store: torchrun's node-0 agent would start a shared one on every interface;
  TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1 turns it off and rank 0 binds it to MASTER_ADDR
  (= node 0's --local-addr), measure/comm/rank.py.
- gloo pairs and NCCL bootstrap/data sockets: GLOO_SOCKET_IFNAME / NCCL_SOCKET_IFNAME (=IF,
  exact) of the chosen interface. RDMA traffic (nccl-ib) goes over the HCA NCCL picks
  (NCCL_IB_HCA narrows it), not over IP sockets.
Not controlled: torchrun's own short-lived free-port probe (binds localhost and closes it),
and listeners opened by user code or plugins; under Slurm, srun's own daemons.
"""
