"""`rax report RUN`: the run as a self-contained HTML report (or Markdown, JSON, PDF)."""

from raxlab.cli.common import add_store

COMMAND = "report"
HELP = "write the report of a run: html (default, offline, printable), md, json or pdf"
ORDER = 70


def add_arguments(p):
    p.add_argument("run", metavar="RUN", nargs="?", default="latest", help="run id, unique prefix, or 'latest' (default)")
    p.add_argument("--format", default="html", choices=("html", "md", "json", "pdf"),
                   help="html (default), md, json, or pdf (needs headless Chromium)")
    p.add_argument("--out", metavar="PATH", default=None,
                   help="file to write, or - for stdout (html, md, json); default: reports/<run>/report.<ext> "
                        "next to the results store")
    p.add_argument("--json", action="store_true", help="print where the report went as JSON")
    add_store(p)


def run(args) -> int:
    import json
    import sys

    from raxlab.errors import RaxError
    from raxlab.report import collect, render, write_report
    from raxlab.store import Store

    if args.out == "-":
        if args.format == "pdf":
            raise RaxError("a PDF is binary; give a file with --out", field="--out")
        sys.stdout.write(render(collect(Store(args.store, readonly=True), args.run), args.format))
        return 0
    path = write_report(Store(args.store, readonly=True), args.run, args.format, args.out)
    if args.json:
        print(json.dumps({"path": str(path), "format": args.format}))
    else:
        print(f"report written: {path}")
        if args.format == "html":
            print(f"open it: {path.resolve().as_uri()}")
    return 0
