"""`rax runs export RUN`: every stored point as a flat row (CSV, Parquet, JSON) with raw samples."""

from raxlab.cli.common import add_store

COMMAND = ("runs", "export")
HELP = "export a run's points (params, results, raw samples) as csv, parquet or json"
ORDER = 83


def add_arguments(p):
    p.add_argument("run", metavar="RUN", help="run id, unique prefix, or 'latest'")
    p.add_argument("--format", default="csv", choices=("csv", "parquet", "json"), help="csv (default), parquet, json")
    p.add_argument("--out", metavar="PATH", default=None,
                   help="file to write, or - for stdout (csv/json); default: reports/<run>/points.<ext> next to the store")
    p.add_argument("--json", action="store_true", help="print where the export went as JSON")
    add_store(p)


def run(args) -> int:
    import json
    import sys

    from raxlab.errors import RaxError
    from raxlab.report import collect
    from raxlab.report.export import export, rows
    from raxlab.report.output import default_path, write_atomic
    from raxlab.store import Store

    store = Store(args.store, readonly=True)
    data = collect(store, args.run)
    payload = export(data, args.format)
    if args.out == "-":
        if isinstance(payload, bytes):
            raise RaxError("parquet is binary; give a file with --out", field="--out")
        sys.stdout.write(payload)
        return 0
    path = write_atomic(args.out or default_path(store.path, data.root["id"], f"points.{args.format}"), payload)
    n = len(rows(data))
    if args.json:
        print(json.dumps({"path": str(path), "format": args.format, "rows": n}))
    else:
        print(f"{n} points of run {data.root['id']} written: {path}")
    return 0
