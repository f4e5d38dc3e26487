"""Fabric regimes: the scale-out bandwidth a collective gets under load (data/fabric_regimes.yaml).

A regime (adaptive InfiniBand, tuned RoCE, RoCE with plain ECMP, NCCL over TCP) multiplies the
network share of a multi-node collective by a fraction in (0, 1], a function of the GPUs the
collective spans, from published fabric-level measurements with their ranges. All-to-all keeps
more flows per link than a ring or tree, so ECMP collisions cost it less (balls-into-bins: the
overload of the busiest link falls as 1/sqrt(flows per link)); a regime without its own
all-to-all anchors takes its family's (RoCE: the tuned curve) times that reduced collision loss.

Regimes are numbered in file order (`index`) so a stack of hardware candidates carries one float
per candidate (`HwConsts.regime`); `efficiency(kind, regime, p, k)` broadcasts.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

from raxlab.errors import RaxError, unknown_name
from raxlab.safe_yaml import PACKAGE_LOADER

PATH = Path(__file__).parent / "data" / "fabric_regimes.yaml"
FAMILIES = ("infiniband", "roce", "tcp")
DEFAULT = {"infiniband": "adaptive", "roce": "tuned", "tcp": "tcp"}  # what a plan assumes unless told
BANDS = ("value", "low", "high")


@dataclass(frozen=True)
class Regime:
    name: str
    family: str
    title: str
    anchors: dict  # kind -> (log2 GPUs, value, low, high) arrays, or None (derived all-to-all)
    provenance: dict  # kind -> "source: ..." or "estimate: ..."


def _anchors(node, where: str):
    rows = node.get("anchors") if isinstance(node, dict) else None
    if not rows or any(len(r) != 4 for r in rows):
        raise RaxError(f"{PATH.name}: {where}.anchors must list [GPUs, value, low, high] rows", field="fabric regimes")
    a = np.array(rows, dtype=float)
    if np.any(a[:, 1:] <= 0) or np.any(a[:, 1:] > 1.05) or np.any(a[:, 2] > a[:, 1]) or np.any(a[:, 1] > a[:, 3]):
        raise RaxError(f"{PATH.name}: {where}: fractions must be in (0, 1.05] with low <= value <= high",
                       field="fabric regimes")
    if not (node.get("source") or node.get("estimate")):
        raise RaxError(f"{PATH.name}: {where} needs a source or an estimate", field="fabric regimes")
    return np.log2(a[:, 0]), a[:, 1], a[:, 2], a[:, 3]


@lru_cache(maxsize=1)
def _load() -> tuple[tuple[Regime, ...], float]:
    try:
        data = yaml.load(PATH.read_text(), Loader=PACKAGE_LOADER)
    except (OSError, yaml.YAMLError) as e:
        raise RaxError(f"cannot read {PATH}: {e}", field="fabric regimes") from e
    out = []
    for name, r in data["regimes"].items():
        extra = set(r) - {"family", "title", "all_reduce", "all_to_all"}
        if extra or r.get("family") not in FAMILIES:
            raise RaxError(f"{PATH.name}: regime {name}: unknown keys {sorted(extra)} or family {r.get('family')!r} "
                           f"(known families: {', '.join(FAMILIES)})", field="fabric regimes")
        anchors = {k: _anchors(r[k], f"{name}.{k}") if k in r else None for k in ("all_reduce", "all_to_all")}
        prov = {k: (f"source: {r[k]['source']}" if r[k].get("source") else f"estimate: {r[k]['estimate']}")
                for k in ("all_reduce", "all_to_all") if k in r}
        out.append(Regime(name, r["family"], r.get("title", name), anchors, prov))
    return tuple(out), float(data["ring_flows_per_nic"]["value"])


def regimes() -> tuple[Regime, ...]:
    return _load()[0]


def names() -> list[str]:
    return [r.name for r in regimes()]


def index(name: str) -> int:
    if name not in names():
        raise unknown_name("fabric regime", name, names())
    return names().index(name)


def get(name: str) -> Regime:
    return regimes()[index(name)]


def for_family(family: str) -> list[str]:
    """The regimes a fabric family can run in, its default first."""
    own = [r.name for r in regimes() if r.family == family]
    return sorted(own, key=lambda n: n != DEFAULT.get(family))


def family_of(fabric_family: str, transport: str) -> str:
    """Catalogue fabric (family, transport) -> regime family."""
    if transport == "tcp":
        return "tcp"
    return "infiniband" if fabric_family == "infiniband" else "roce"


def _curve(anchors, p, band: str):
    x, *vals = anchors
    return np.interp(np.log2(np.maximum(p, 1.0)), x, vals[BANDS.index(band)])


def _family_a2a(r: Regime):
    """All-to-all anchors of another regime of the same family (RoCE: tuned), or None."""
    return next((o.anchors["all_to_all"] for o in regimes() if o.family == r.family and o.anchors["all_to_all"]
                 is not None), None)


@lru_cache(maxsize=64)
def _flat_at(i: int, kind: str, band: str) -> bool:
    return _flat(regimes()[i], kind, band)


def _flat(r: Regime, kind: str, band: str) -> bool:
    if kind == "all_to_all" and r.anchors["all_to_all"] is None:
        return False  # derived: collisions and the family's own curve
    a = r.anchors["all_to_all"] if kind == "all_to_all" else r.anchors["all_reduce"]
    return bool(np.all(a[1 + BANDS.index(band)] == 1.0))


def efficiency(kind: str, regime, p, k, band: str = "value"):
    """Fraction of the unloaded network bandwidth a `kind` collective over `p` ranks (`k` per
    node) gets in `regime` (an index or array of indices); 1.0 inside one node."""
    if np.ndim(regime) == 0 and _flat_at(int(regime), kind, band):
        return 1.0 if np.ndim(p) == 0 and np.ndim(k) == 0 else np.ones(np.broadcast_shapes(np.shape(p), np.shape(k)))
    p = np.asarray(p, dtype=float)
    k = np.clip(np.asarray(k, dtype=float), 1.0, np.maximum(p, 1.0))
    reg = np.asarray(regime, dtype=float)
    shape = np.broadcast_shapes(p.shape, k.shape, reg.shape)
    out = np.ones(shape)
    rs, flows = _load()
    for i in (np.unique(reg) if reg.size > 1 else reg.reshape(1)):
        r = rs[int(i)]
        if _flat_at(int(i), kind, band):
            continue  # 1.0 at every scale (adaptive InfiniBand): nothing to interpolate
        sel = np.broadcast_to(reg == i, shape)
        pp, kk = np.broadcast_to(p, shape)[sel], np.broadcast_to(k, shape)[sel]
        own = r.anchors.get(kind) if kind in ("all_reduce", "all_to_all") else r.anchors["all_reduce"]
        if own is not None or kind != "all_to_all":
            eff = _curve(own if own is not None else r.anchors["all_reduce"], pp, band)
        else:  # the family's own all-to-all, times the all-reduce's collision loss scaled by flows per link
            loss = 1.0 - _curve(r.anchors["all_reduce"], pp, band)
            base = _family_a2a(r)
            eff = (1.0 if base is None else _curve(base, pp, band)) * (1.0 - loss * np.sqrt(flows / np.maximum(pp - kk, flows)))
        out[sel] = np.where(pp > kk, eff, 1.0)
    return out if shape else float(out)


def describe(name: str, gpus: int, gpus_per_node: int) -> dict:
    """The regime's fractions at a scale, with their ranges and provenance (for plans and reports)."""
    r, i = get(name), index(name)
    out = {"regime": name, "family": r.family, "title": r.title}
    for kind in ("all_reduce", "all_to_all"):
        out[kind] = {b: float(efficiency(kind, i, gpus, gpus_per_node, b)) for b in BANDS}
        out[kind]["basis"] = r.provenance.get(kind) or (
            "derived: the family's tuned all-to-all times (1 - the all-reduce collision loss x sqrt(ring flows "
            "per NIC / off-node peers)), data/fabric_regimes.yaml header")
    return out
