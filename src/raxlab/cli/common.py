"""Argument helpers shared by the command modules."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON instead of tables")


def add_store(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store", metavar="PATH", default=None,
        help="results database (default: $RAX_STORE or the per-user data directory)",
    )


def add_workload(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument(
        "workload", metavar="WORKLOAD", nargs=None if required else "?",
        help="a WorkloadSpec YAML file or a preset name (see `rax presets`)",
    )
    parser.add_argument(
        "--trust-code", action="store_true",
        help="allow the workload to import and run your own Python code (package.module:factory)",
    )


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
    """A rich Console that stays readable when piped (rich defaults to 80 columns then)."""
    import os
    import shutil

    from rich.console import Console

    width = int(os.environ.get("COLUMNS", 0)) or max(shutil.get_terminal_size((140, 24)).columns, 140)
    return Console(width=width)
