"""The layer order of DESIGN.md, enforced over every import in src/raxlab (lazy ones inside
functions included): lower layers never import higher ones, and no module import circles."""

import ast
import functools
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

# Rank per top-level part of raxlab: a module may import its own rank and lower ones.
RANK = {
    # shared leaves: errors, argument types, YAML, statistics, fits, formatting, output files, store, catalogue
    "raxlab": 0, "errors": 0, "argtypes": 0, "safe_yaml": 0, "stats": 0, "fits": 0, "fmt": 0, "outfile": 0,
    "store": 0, "catalog": 0, "shape": 0, "textsafe": 0, "rundir": 0,
    "workload": 1, "netemu": 1,
    "measure": 2, "launch": 2,  # launch describes the multi-node runs that measure/ executes and records
    "predict": 3,
    "evidence": 3.5,  # imported logs: parsed (measure/comm/nccl_log), compared with projections (predict)
    "plan": 4,
    "report": 5,
    "accept": 6,  # re-measures a delivered cluster and judges it against a plan's projection
    "pipeline": 7,
    "cli": 8,
    "__main__": 9,
}
# Upward imports with a reason (importer, imported).
ALLOWED = {
    # `rax launch -- rax bench comm|ddp ...` parses the bench command with that command's own argparse
    # definition, so every flag means under launch what it means in the bench command.
    ("raxlab.launch.job", "raxlab.cli.bench_comm"), ("raxlab.launch.job", "raxlab.cli.bench_ddp"),
}


def _modules() -> dict[str, Path]:
    mods = {}
    for p in (SRC / "raxlab").rglob("*.py"):
        name = ".".join(p.relative_to(SRC).with_suffix("").parts)
        mods[name.removesuffix(".__init__")] = p
    return mods


def _targets(mods, name: str, node) -> list[str]:
    if isinstance(node, ast.Import):
        found = [a.name for a in node.names]
    else:
        base = node.module or ""
        if node.level:
            pkg = name.split(".") if mods[name].name == "__init__.py" else name.split(".")[:-1]
            base = ".".join(pkg[: len(pkg) - node.level + 1] + ([base] if base else []))
        found = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
    out = []
    for t in found:
        while t and t not in mods:
            t = t.rpartition(".")[0]
        if t.startswith("raxlab") and t != name:
            out.append(t)
    return out


@functools.lru_cache(maxsize=1)
def _graph() -> dict[str, set[str]]:
    mods = _modules()
    graph = {m: set() for m in mods}
    for name, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                graph[name].update(_targets(mods, name, node))
    return graph


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "raxlab"


def _ranks(graph) -> dict[str, float]:
    """RANK, plus every unlisted top-level module that imports only shared leaves: a new leaf."""
    ranks = dict(RANK)
    for part in {_part(m) for m in graph} - set(RANK):
        targets = {_part(t) for m, ts in graph.items() if _part(m) == part for t in ts} - {part}
        if all(RANK.get(t) == 0 for t in targets):
            ranks[part] = 0
    return ranks


def test_every_part_has_a_layer():
    graph = _graph()
    unknown = sorted({_part(m) for m in graph} - set(_ranks(graph)))
    assert not unknown, f"give these parts of raxlab a layer in tests/test_layers.py RANK: {unknown}"


def test_lower_layers_never_import_higher_ones():
    graph = _graph()
    rank = _ranks(graph)
    bad = [f"{a} -> {b}" for a, targets in graph.items() for b in targets
           if rank.get(_part(b), 0) > rank.get(_part(a), 0) and (a, b) not in ALLOWED]
    assert not bad, "upward imports:\n" + "\n".join(sorted(bad))


def test_no_import_circles():
    graph, index, low, stack, on, circles, counter = _graph(), {}, {}, [], set(), [], [0]

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                circles.append(sorted(comp))

    for v in list(graph):
        if v not in index:
            visit(v)
    assert not circles, f"import circles: {circles}"


def test_the_checker_sees_lazy_imports():
    """The graph includes imports inside functions (the usual way circles hide)."""
    assert "raxlab.fits" in _graph()["raxlab.predict.commfit"]
