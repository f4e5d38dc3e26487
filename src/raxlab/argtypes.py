"""argparse pieces of the one CLI grammar, below every layer that defines flags.

`rax` commands (cli/) and the measurement workers (measure/) share them, so a list-valued flag,
a deprecated spelling or a warning reads the same everywhere:

    p.add_argument("--tp", type=int_list)           # 4 or 1,2,4,8
    extend_list(p, "--run")                          # --run a,b or --run a --run b
    deprecated_alias(p, "--batch", "--micro-batch", dest="batch", type=int)
    warn("...")                                      # stderr, so --json stdout stays JSON
"""

from __future__ import annotations

import argparse
import sys


def warn(message: str) -> None:
    """A warning for people: always on stderr, so `--json > file` stays valid JSON."""
    print(f"rax: warning: {message}", file=sys.stderr)


def _split(text: str, flag: str) -> list[str]:
    items = [x.strip() for x in str(text).split(",")]
    if not items or any(not x for x in items):
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma list (e.g. 1,2,4)")
    return items


def int_list(text: str) -> list[int]:
    """argparse type of a list-valued integer flag: `4` or `1,2,4,8` (every value >= 0)."""
    out = []
    for x in _split(text, "int"):
        try:
            v = int(x)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{x!r} is not an integer (give a comma list such as 1,2,4)") from None
        if v < 0:
            raise argparse.ArgumentTypeError(f"{v} is negative")
        out.append(v)
    return out


def str_list(text: str) -> list[str]:
    """argparse type of a list-valued name flag: `h100-sxm` or `h100-sxm,b200`."""
    return _split(text, "str")


def extend_list(parser: argparse.ArgumentParser, *flags: str, **kw) -> argparse.Action:
    """A repeatable flag that also takes comma lists: `--run a --run b` == `--run a,b`."""
    return parser.add_argument(*flags, action="extend", type=str_list, default=[], **kw)


def deprecated_alias(parser: argparse.ArgumentParser, old: str, new: str, dest: str, **kw) -> None:
    """Accept `old` for a while as another spelling of `new` (warns on stderr; hidden in --help)."""

    class _Alias(argparse.Action):
        def __call__(self, p, namespace, values, option_string=None):
            warn(f"{old} is deprecated here; use {new}")
            setattr(namespace, self.dest, values)

    parser.add_argument(old, dest=dest, action=_Alias, help=argparse.SUPPRESS, default=argparse.SUPPRESS, **kw)
