"""`rax doctor`: what this machine can measure and what it cannot, and why."""

from raxlab.cli.common import add_json, add_store, console, emit

COMMAND = "doctor"
HELP = "what this machine can measure (GPUs, NCCL, InfiniBand/RoCE, emulation, PDF, store) and why not"
ORDER = 2


def add_arguments(p):
    add_json(p)
    add_store(p)


def run(args) -> int:
    from raxlab.measure.doctor import diagnose
    from raxlab.report.pdf import find_chromium
    from raxlab.store import default_path

    emit(args, diagnose(str(args.store or default_path()), find_chromium()), _render)
    return 0


def _render(d: dict) -> None:
    from rich.table import Table

    from raxlab.report import fmt

    out, sw, cpu = console(), d["software"], d["cpu"]
    out.print(f"rax doctor: {sw['os']}, Python {sw['python']}, raxlab {sw['raxlab']}, torch {sw['torch']} "
              f"(CUDA build {sw['torch_cuda_build'] or 'none'}), NCCL {sw['nccl'] or 'N/A'}, transformers "
              f"{sw['transformers']}", style="bold")
    out.print(f"CPU: {cpu.get('model')}, {cpu.get('usable_cores')} usable of {cpu.get('logical_cores')} logical cores; "
              f"memory {fmt.nbytes(d['mem_bytes'])}")
    _gpus(out, d["gpus"], fmt)
    t = Table(title="what this machine can measure", title_justify="left")
    for c in ("measurement", "here", "why"):
        t.add_column(c)
    for v in d["verdicts"]:
        t.add_row(v["what"], "yes" if v["can"] else "no", v["why"])
    out.print(t)
    links = [f"{n['name']} {n['speed_mbit_s'] / 1000:g} Gb/s" if n["speed_mbit_s"] else f"{n['name']} (rate unknown)"
             for n in d["nics"] if n["name"] != "lo"]
    out.print("network interfaces: " + (", ".join(links) or "none besides loopback"))
    out.print("every measurement run stores these facts in its fingerprint (`rax runs show RUN --json`)", style="dim")


def _gpus(out, g: dict, fmt) -> None:
    if not g["devices"]:
        out.print(f"GPUs: none seen ({g.get('why') or 'no device'})")
        return
    out.print(f"GPUs ({g['source']}, driver {g.get('driver')}):")
    for dev in g["devices"]:
        c, pcie = dev.get("clocks_mhz") or {}, dev.get("pcie") or {}
        out.print(f"  {dev['index']}: {dev['name']}, {fmt.nbytes(dev.get('mem_bytes'))}, SM {c.get('sm')}/{c.get('sm_max')} "
                  f"MHz, memory {c.get('mem_max')} MHz, power cap {fmt.g(dev.get('power_limit_w'), 4, 'W')}, ECC "
                  f"{dev.get('ecc') or 'N/A'}, MIG {dev.get('mig') or 'N/A'}, PCIe gen {pcie.get('gen')} x{pcie.get('width')}")
    topo = g.get("topology")
    if topo and topo.get("matrix"):
        out.print("  topology: " + " | ".join(" ".join(row) for row in topo["matrix"]) + f"  ({topo['legend']})")
