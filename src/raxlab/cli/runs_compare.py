"""`rax runs compare A B`: what changed between two runs, and whether it is significant."""

from raxlab import fmt
from raxlab.cli.common import add_json, add_store, console, emit, styled

COMMAND = ("runs", "compare")
HELP = "compare two runs: fingerprint and parameter changes, per point ratio, interval and equivalence verdict"
ORDER = 82


def add_arguments(p):
    p.add_argument("a", metavar="RUN_A", help="the baseline run (id, prefix or 'latest')")
    p.add_argument("b", metavar="RUN_B", help="the run compared with it")
    p.add_argument("--threshold", type=float, default=0.05,
                   help="equivalence band: a change counts beyond it, a tie needs the interval inside it "
                        "(default 0.05 = 5 %%)")
    p.add_argument("--alpha", type=float, default=0.05,
                   help="one-sided level of each equivalence test (default 0.05: a 90 %% interval), as rax abtest")
    add_json(p)
    add_store(p)


def run(args) -> int:
    from raxlab.errors import RaxError
    from raxlab.report import collect
    from raxlab.report.compare import compare
    from raxlab.store import Store

    if not 0 < args.threshold < 1:
        raise RaxError(f"must be in (0, 1), got {args.threshold}", field="--threshold")
    if not 0 < args.alpha < 0.5:
        raise RaxError(f"must be in (0, 0.5), got {args.alpha}", field="--alpha")
    store = Store(args.store, readonly=True)
    result = compare(collect(store, args.a), collect(store, args.b), args.threshold, args.alpha)
    emit(args, result, _render)
    return 0


def _fmt(v) -> str:
    return fmt.g(v)


def _kind(k: str) -> str:
    return "pipeline" if k == "run" else k


def _render(res: dict) -> None:
    from rich.table import Table

    from raxlab.report.fmt import seconds

    con = console()
    a, b = res["a"], res["b"]
    con.print(styled(("A", "bold"), f" {_kind(a['kind'])} run {a['id']} ({a['workload'] or '-'}, {a['created_at']})"))
    con.print(styled(("B", "bold"), f" {_kind(b['kind'])} run {b['id']} ({b['workload'] or '-'}, {b['created_at']})"))
    for w in res["warnings"]:
        con.print(styled(("warning:", "yellow"), f" {w}"), highlight=False)
    _changes(con, "fingerprint changes", res["fingerprint_changes"], with_role=True)
    _changes(con, "parameter changes", res["param_changes"])
    level = f"{1 - 2 * res['alpha']:.0%}"
    t = Table(title=f"points (B/A of time, geometric means; {level} interval beyond +-{res['threshold']:.0%}: slower or "
                    f"faster, inside: tie, else inconclusive)")
    for col in ("kind", "point", "median A", "median B", "B/A", f"{level} interval", "Mann-Whitney p", "n A/B",
                "verdict", "why"):
        t.add_column(col, no_wrap=col == "verdict")  # a narrow terminal folds the reason, never the verdict
    style = {"faster": "green", "slower": "red", "status changed": "yellow", "inconclusive": "yellow"}
    for p in res["points"]:
        ci = f"{p['ci'][0]:.3g}-{p['ci'][1]:.3g}" if p["ci"] else "N/A"
        v = p["verdict"]
        t.add_row(p["kind"], p["name"], seconds(p["median_a"]), seconds(p["median_b"]), _fmt(p["ratio"]), ci,
                  _fmt(p["p_value"]), f"{p['n_a']}/{p['n_b']}", f"[{style.get(v, 'white')}]{v}[/]", p["why"])
    con.print(t)
    for side in ("only_in_a", "only_in_b"):
        if res[side]:
            con.print(f"{side.replace('_', ' ')}: {', '.join(res[side])}")
    con.print("summary: " + (", ".join(f"{k} {n}" for k, n in sorted(res["summary"].items())) or "no matching points"))


def _changes(con, title: str, rows: list, with_role: bool = False) -> None:
    if not rows:
        con.print(f"{title}: none")
        return
    con.print(f"{title}:")
    for r in rows:
        role = f"[{r['role']}] " if with_role else ""
        con.print(f"  {role}{r['key']}: {r['a']!r} -> {r['b']!r}", highlight=False)
