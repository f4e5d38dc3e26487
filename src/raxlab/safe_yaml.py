"""YAML written by users, read so that no input can crash or stall the reader.

`load(text, where=..., field=...)` parses with libyaml when present (fast, and it refuses
nesting deeper than 1000 levels; the pure-Python parser is quadratic in flow nesting and
overflows the stack), rejects duplicate keys (PyYAML silently keeps the last one, so a
typo'd override would vanish), and turns every parse failure into a one-line RaxError:
YAML errors, stack overflows, integers past Python's 4300-digit conversion limit.

`check_size(obj, ...)` bounds what was parsed: YAML aliases are shared references, so a
few lines can stand for 10^9 values ("billion laughs"); pydantic dumps and the results
store's JSON would expand them all. The walk stops at the first bound it crosses.
"""

from __future__ import annotations

from typing import Any

import yaml

from raxlab.errors import RaxError

MAX_DEPTH = 64  # real specs and configs nest < 6 levels; JSON and pydantic recurse per level
MAX_NODES = 200_000  # values after alias expansion; a 405B model's inline config has < 1000
_BASE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# RA:X's own data files (priors, error bands, defaults) are trusted: libyaml's SafeLoader, 5-10x
# faster than yaml.safe_load's pure-Python parser (a warm `rax predict` reads four of them).
PACKAGE_LOADER = _BASE


class StrictLoader(_BASE):  # type: ignore[misc, valid-type]
    """SafeLoader (libyaml when built) that rejects duplicate keys."""


def _construct_mapping(loader, node, deep=False):
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            dup = key in seen
            seen.add(key)
        except TypeError:  # unhashable key: construct_mapping reports it with its position
            break
        if dup:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
    return loader.construct_mapping(node, deep=deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load(text: str, *, where: str, field: str | None = None) -> Any:
    """Parse one YAML document; any failure is a RaxError `malformed YAML in WHERE ...`."""
    try:
        return yaml.load(text, Loader=StrictLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise RaxError(f"malformed YAML in {where}{at}: {problem}", field=field) from None
    except RecursionError:
        raise RaxError(f"malformed YAML in {where}: nested too deeply", field=field) from None
    except ValueError as exc:  # int() past sys.get_int_max_str_digits(), and similar value limits
        raise RaxError(f"malformed YAML in {where}: {exc}", field=field) from None


def check_size(obj: Any, *, where: str, field: str | None = None) -> None:
    """RaxError if `obj` nests deeper than MAX_DEPTH or holds more than MAX_NODES values."""
    stack, nodes = [(obj, 1)], 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise RaxError(f"{where} holds more than {MAX_NODES} values (YAML aliases expanding?)", field=field)
        if depth > MAX_DEPTH:
            raise RaxError(f"{where} is nested more than {MAX_DEPTH} levels deep", field=field)
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend((v, depth + 1) for v in value)
