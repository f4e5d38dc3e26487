"""Read catalogue documents strictly and turn every problem into one-line RaxErrors.

A catalogue document (built-in data file, user override file, or a file given to
`rax catalog validate`) is a YAML mapping of sections to lists of entries:

    accelerators:
      - name: h100-sxm
        price_usd: {value: 27500, source: "Dell quote Q-1234", as_of: 2026-05-01, basis: quote}

Errors name the file, the entry and the field: `overrides.yaml: accelerator 'h100-sxm':
mem_gb: unknown field; did you mean mem_gib?`. No pydantic or YAML traceback leaks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from raxlab.catalog import units
from raxlab.catalog.parts import KINDS, SECTIONS
from raxlab.catalog.schema import Q, Spec
from raxlab import safe_yaml
from raxlab.errors import RaxError, closest

PROVENANCE_KEYS = ("source", "estimate", "as_of")
_BASE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_BASE):  # type: ignore[misc, valid-type]
    """SafeLoader that rejects duplicate keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader, node, deep=False):
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen[key] = 1
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_document(path: Path, label: str) -> dict[str, list[dict]]:
    """Parse one document into {kind: [raw entry, ...]}; RaxError for any problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RaxError(f"cannot read catalogue file: {exc.strerror}", field=label) from None
    except UnicodeDecodeError as exc:
        raise RaxError(f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
                       "save it as UTF-8", field=label) from None
    try:
        doc = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise RaxError(f"not valid YAML{where}: {problem}", field=label) from None
    except (RecursionError, ValueError) as exc:  # pure-Python parser depth; ints past 4300 digits
        raise RaxError(f"not valid YAML: {'nested too deeply' if isinstance(exc, RecursionError) else exc}",
                       field=label) from None
    safe_yaml.check_size(doc, where="the document", field=label)  # YAML aliases can expand 10^9-fold
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise RaxError(f"expected a mapping of sections ({', '.join(SECTIONS)})", field=label)
    return {_section_kind(sec, label): _entries(sec, items, label) for sec, items in doc.items()}


def _section_kind(section: Any, label: str) -> str:
    if section not in SECTIONS:
        near = closest(str(section), list(SECTIONS))
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        raise RaxError(f"unknown section {section!r}{hint} Known: {', '.join(SECTIONS)}", field=label)
    return SECTIONS[section]


def _entries(section: str, items: Any, label: str) -> list[dict]:
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise RaxError(f"section {section!r} must be a list of entries (mappings)", field=label)
    return items


def where(label: str, kind: str, raw: dict, index: int) -> str:
    name = raw.get("name")
    return f"{label}: {kind} {name!r}" if isinstance(name, str) else f"{label}: {kind} #{index + 1}"


def normalize(raw: dict, kind: str, loc: str, *, override: bool = False) -> dict:
    """Plain numbers -> Q mappings that carry the entry's default provenance.

    Every number must end with a source or an estimate and an as_of date; prices must also
    say what kind of price they are (`basis`)."""
    spec_cls: type[Spec] = KINDS[kind].SPEC
    defaults = {k: raw[k] for k in PROVENANCE_KEYS if raw.get(k) is not None}
    out = dict(raw)
    for field in spec_cls.q_fields():
        if raw.get(field) is not None:
            out[field] = _normalize_number(raw[field], field, defaults, loc, override)
    return out


def _normalize_number(v: Any, field: str, defaults: dict, loc: str, override: bool) -> dict:
    if isinstance(v, bool) or not isinstance(v, (int, float, dict)):
        raise RaxError(f"must be a number or a mapping with value:, got {v!r}", field=f"{loc}: {field}")
    q = {"value": v} if not isinstance(v, dict) else dict(v)
    if "override" in q:
        raise RaxError("'override' is set by the loader, not in files", field=f"{loc}: {field}")
    if "value" not in q:
        raise RaxError("a number given as a mapping needs value:", field=f"{loc}: {field}")
    if not (q.get("source") or q.get("estimate")):
        if not (defaults.get("source") or defaults.get("estimate")):
            raise RaxError("no source: give source: (URL or document) or estimate: (reasoning) "
                           "on the field or on the entry", field=f"{loc}: {field}")
        q.update({k: defaults[k] for k in ("source", "estimate") if k in defaults})
    if q.get("as_of") is None:
        if "as_of" not in defaults:
            raise RaxError("no as_of date on the field or on the entry", field=f"{loc}: {field}")
        q["as_of"] = defaults["as_of"]
    if field.startswith("price") or field.startswith("cloud_"):
        if not isinstance(v, dict) or "basis" not in v:
            raise RaxError("a price must say what it is: write it as a mapping with basis: "
                           "list | street | msrp | quote | on-demand | estimate", field=f"{loc}: {field}")
    return q | ({"override": True} if override else {})


def validate(raw: dict, kind: str, loc: str) -> Spec:
    """Build the strict spec of one normalised entry; pydantic errors become one line."""
    spec_cls: type[Spec] = KINDS[kind].SPEC
    try:
        return spec_cls.model_validate(raw)
    except ValidationError as exc:
        raise _one_line(exc, spec_cls, loc) from None


def _one_line(exc: ValidationError, spec_cls: type[Spec], loc: str) -> RaxError:
    # An unknown key first: a unit typo (mem_gb) also makes the real field (mem_gib) missing,
    # and the typo is what the user has to fix.
    errors = sorted(exc.errors(include_url=False), key=lambda e: e["type"] != "extra_forbidden")
    err = errors[0]
    path = [str(p) for p in err["loc"]]
    field = ".".join(path) or "(entry)"
    if err["type"] == "extra_forbidden":
        known = list(Q.model_fields) if len(path) > 1 else list(spec_cls.model_fields)
        msg = "unknown field" + _did_you_mean(path[-1], known)
    elif err["type"] == "missing":
        msg = "required field missing"
    else:
        msg = str(err["msg"]).removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return RaxError(msg + more, field=f"{loc}: {field}")


def _did_you_mean(key: str, known: list[str]) -> str:
    near = closest(key, known)
    if not near:
        return f"; known fields: {', '.join(known)}"
    hint = "; did you mean " + ", ".join(near) + "?"
    if units.is_numeric_name(near[0]) and key.split("_")[0] == near[0].split("_")[0]:
        hint += " (the unit is part of the field name: see raxlab.catalog.units)"
    return hint
