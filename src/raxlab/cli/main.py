"""`rax` entry point.

Commands are discovered: every module in `raxlab.cli` that defines `COMMAND`
(a name, or a (group, name) pair), `HELP`, `add_arguments(parser)` and `run(args)`
becomes a sub-command. Modules stay thin: they parse and call the library. Heavy
imports (torch) happen inside `run`, so `rax --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from raxlab import __version__
from raxlab.errors import RaxError
from raxlab.textsafe import CleanStream, one_line
from raxlab.netemu.cleanup import terminate_as_interrupt

GROUP_HELP = {
    "bench": "measure this machine: compute, kernels, io, comm, ddp",
    "runs": "stored runs: list, show, compare, export",
    "catalog": "hardware catalogue: list, show, validate",
    "import": "evidence you already have: nccl-tests output, training logs",
}
SKIP = {"main", "common"}


def _command_modules():
    import raxlab.cli as pkg

    mods = []
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name in SKIP or info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"raxlab.cli.{info.name}")
        if hasattr(mod, "COMMAND"):
            mods.append(mod)
    return sorted(mods, key=lambda m: (getattr(m, "ORDER", 50), str(m.COMMAND)))


def build_parser() -> argparse.ArgumentParser:
    from raxlab.cli.common import EXIT_CODES

    parser = argparse.ArgumentParser(
        prog="rax", description="RA:X: test-based AI-infrastructure sizing lab",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="exit codes:\n" + "\n".join(f"  {code:>3}  {what}" for code, what in EXIT_CODES.items())
        + "\n\n--json prints only JSON on stdout; progress and warnings go to stderr.",
    )
    parser.add_argument("--version", action="version", version=f"rax {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    top = parser.add_subparsers(dest="command", metavar="COMMAND")
    groups: dict[str, argparse._SubParsersAction] = {}
    for mod in _command_modules():
        target, name = top, mod.COMMAND
        if isinstance(mod.COMMAND, tuple):
            group, name = mod.COMMAND
            if group not in groups:
                gp = top.add_parser(group, help=GROUP_HELP.get(group, ""))
                groups[group] = gp.add_subparsers(dest="subcommand", metavar="SUBCOMMAND")
                gp.set_defaults(_group_parser=gp)
            target = groups[group]
        sub = target.add_parser(name, help=mod.HELP, description=mod.HELP)
        sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                         help="show tracebacks for errors")
        mod.add_arguments(sub)
        sub.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command with stdout/stderr behind `textsafe.CleanStream`: whatever a command
    prints, no user string in it reaches the terminal with control sequences."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = CleanStream.around(sys.stdout), CleanStream.around(sys.stderr)
    try:
        return _main(argv)
    finally:
        sys.stdout, sys.stderr = saved


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    run = getattr(args, "_run", None)
    if run is None:
        (getattr(args, "_group_parser", None) or parser).print_help()
        return 2
    _private_tmpdir()
    try:
        # SIGTERM/SIGHUP (a scheduler, a closed terminal) unwind like Ctrl-C in every command, so
        # runs are marked interrupted and children cleaned up instead of Python ending on the spot.
        with terminate_as_interrupt():
            return int(run(args) or 0)
    except RaxError as exc:
        if getattr(args, "debug", False):
            raise
        print(f"rax: error: {one_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("rax: interrupted; every finished point is kept in the store", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def _private_tmpdir() -> None:
    """Temporary files of this run and its children (torchrun, ranks, multiprocessing) go to a
    directory removed at exit, swept by the next start after a kill -9 (raxlab.rundir)."""
    from raxlab import rundir

    try:
        rundir.use_private_tmpdir()
    except OSError as exc:  # an unwritable /tmp fails later with its own message; never here
        print(f"rax: warning: no private temporary directory ({exc}); temporary files go to the default",
              file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
