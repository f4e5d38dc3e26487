"""Argument helpers shared by the command modules."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable

from raxlab.argtypes import deprecated_alias, extend_list, int_list, str_list, warn  # noqa: F401 (re-exported)


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON instead of tables")


def add_store(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store", metavar="PATH", default=None,
        help="results database (default: $RAX_STORE or the per-user data directory)",
    )


def add_workload(parser: argparse.ArgumentParser, required: bool = True, *, deprecated_flag: bool = False) -> None:
    """WORKLOAD as the first positional argument (the grammar of every command that takes one).

    `deprecated_flag`: also accept the old `--workload REF` (warns on stderr); read the value
    with `workload_ref(args)`."""
    parser.add_argument(
        "workload", metavar="WORKLOAD", nargs="?" if (deprecated_flag or not required) else None,
        help="a WorkloadSpec YAML file or a preset name (see `rax presets`)",
    )
    if deprecated_flag:
        parser.add_argument("--workload", dest="workload_flag", metavar="WORKLOAD", help=argparse.SUPPRESS)
        parser.set_defaults(_workload_required=required)
    parser.add_argument(
        "--trust-code", action="store_true",
        help="allow the workload to import and run your own Python code (package.module:factory)",
    )


def workload_ref(args: argparse.Namespace) -> str | None:
    """The WORKLOAD positional, or the deprecated `--workload` flag (with a warning on stderr)."""
    from raxlab.errors import RaxError

    pos, flag = getattr(args, "workload", None), getattr(args, "workload_flag", None)
    if pos and flag:
        raise RaxError("give the workload once, as the first argument (--workload is deprecated)", field="WORKLOAD")
    if flag:
        warn("--workload is deprecated: give the workload as the first argument, e.g. `rax predict llama3-8b ...`")
    ref = pos or flag
    if ref is None and getattr(args, "_workload_required", False):
        raise RaxError("missing: a WorkloadSpec YAML file or a preset name (see `rax presets`)", field="WORKLOAD")
    return ref




def emit(args: argparse.Namespace, data: Any, render: Callable[[Any], None]) -> None:
    """Print `data` as JSON when --json was given, else call `render(data)`."""
    if getattr(args, "json", False):
        json.dump(data, sys.stdout, indent=2, default=_jsonable, allow_nan=False)
        sys.stdout.write("\n")
    else:
        render(data)


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    return str(obj)


def console():
    """The CLI's rich Console (`raxlab.textsafe.safe_console`): markup is never parsed, control
    characters never printed; style with `styled(...)`. Stays readable when piped (rich
    defaults to 80 columns then)."""
    import os
    import shutil

    from raxlab.textsafe import safe_console

    try:
        width = int(os.environ.get("COLUMNS") or 0)
    except ValueError:
        width = 0
    width = width if 20 <= width <= 1000 else max(shutil.get_terminal_size((140, 24)).columns, 140)
    return safe_console(width=width)


# Exit codes of every command (README "Exit codes", `rax --help`): scripts can tell a refused
# input from "it ran and the answer is no".
EXIT_OK = 0
EXIT_CHECK_FAILED = 1  # a check said no: `rax accept` failed, `rax bench comm` saw wrong results
EXIT_USAGE = 2  # bad input: one line `rax: error: FIELD: ...` on stderr
EXIT_INCOMPLETE = 3  # `rax accept`: a check could not be made
EXIT_NO_FIT = 4  # `rax predict`: the layout does not fit in GPU memory (a sweep: none fits and runs)
EXIT_NO_PLAN = 5  # `rax plan`: no candidate meets every target (the closest one is shown)
EXIT_INTERRUPTED = 130  # Ctrl-C / SIGTERM: what was measured is kept
EXIT_CODES = {
    EXIT_OK: "success",
    EXIT_CHECK_FAILED: "a check said no (rax accept: fail; rax bench comm: wrong results); an unexpected crash "
                       "also exits 1, with a traceback",
    EXIT_USAGE: "bad input: a one-line `rax: error: FIELD: ...` on stderr",
    EXIT_INCOMPLETE: "rax accept: a check could not be made",
    EXIT_NO_FIT: "rax predict: the layout does not fit in GPU memory (a sweep: no layout fits and runs)",
    EXIT_NO_PLAN: "rax plan: no candidate meets every target (the closest one is shown)",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C, SIGTERM); every finished point is kept",
}


def styled(*parts):
    """One line of text from plain strings and (text, style) pairs, e.g.
    `styled(("workload card: " + name, "bold"), "  (lm)")`; no part is parsed as markup."""
    from rich.text import Text

    return Text.assemble(*parts)


def add_artefacts(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--artefacts", metavar="DIR", default=None,
        help="write the launch files for the layout into DIR: torchrun and Slurm scripts, Megatron-LM arguments, "
             "torchtitan TOML, DeepSpeed JSON (serving: vLLM / SGLang); see DIR/README.md",
    )


def write_artefacts(args: argparse.Namespace, block: dict | None) -> list[str]:
    """Write `--artefacts DIR` (when given) and say so on stderr; returns the paths."""
    if not getattr(args, "artefacts", None) or block is None:
        return []
    from raxlab.plan.artefacts import write

    paths = write(block, args.artefacts)
    names = ", ".join(p.rsplit("/", 1)[-1] for p in paths)
    print(f"wrote {len(paths)} launch files to {args.artefacts}: {names}", file=sys.stderr)
    return paths
