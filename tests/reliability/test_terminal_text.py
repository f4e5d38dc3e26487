"""Text that reaches a terminal, a Markdown file or an HTML page: Rich markup in a user string
is text (never a MarkupError), control sequences never get through (issue 20: a workload
`name: "[/bold] x"` crashed `rax card`, `rax predict`, `rax bench compute` and every later
`rax runs list`; `\\e[31m`, `\\e]0;title\\a`, `\\e[2J` were written raw)."""

from __future__ import annotations

import io
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raxlab.errors import RaxError
from raxlab.store import Store
from raxlab.textsafe import clean, one_line, safe_console
from raxlab.workload.spec import parse_spec
from tests.reliability.conftest import assert_cli_error, cli
from tests.reliability.fuzzkit import COUNTS, fuzz

MARKUP = "[/bold] x [red]y[/] [link=file:///etc/passwd]z[/link] :smile: [bold"
CONTROLS = ("\x1b[31mred\x1b[0m \x1b]0;pwned title\x07 \x1b[2J \x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\ "
            "\x9b31m \x9d0;t\x9c \x1bc \rover\x08 \x00\x7f \u202egnp.exe \udcff")
HOSTILE = f"{MARKUP} {CONTROLS}"
# what must never reach the terminal: ESC, the 8-bit CSI/OSC/ST, BEL, CR, backspace, NUL, DEL, RLO
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _visible(text: str) -> None:
    bad = FORBIDDEN.findall(text)
    assert not bad, f"control characters reached the output: {sorted(set(bad))!r}"


def test_clean_removes_sequences_whole_and_keeps_text():
    assert clean("a\x1b[31mred\x1b[0m b") == "ared b"
    assert clean("x\x1b]0;title\x07y") == "xy" and clean("x\x1b]8;;u\x1b\\y") == "xy"
    assert clean("tab\tline\n") == "tab\tline\n" and one_line("a\nb\tc\rd") == "a b cd"
    assert clean("caf\u00e9 \u6a21\u578b \u2603") == "caf\u00e9 \u6a21\u578b \u2603"
    _visible(clean(CONTROLS))


# -- the spec decides what a name is --------------------------------------------------------

@pytest.mark.parametrize("bad", ["a\x1b[31mb", "x\x07", "t\rx", "\u202eabc", "a\nb", " pad", "", "   ", "x" * 121])
def test_a_spec_name_with_controls_or_padding_is_a_one_line_error(bad):
    with pytest.raises(RaxError) as exc:
        parse_spec({"name": bad, "model": "small-cnn", "data": "shapes"})
    assert str(exc.value).startswith("name:") and "\n" not in str(exc.value)


def test_markup_in_a_name_is_accepted_and_shown_as_text(tmp_path):
    spec = tmp_path / "evil.yaml"
    spec.write_text(f"name: {MARKUP!r}\nmodel: small-cnn\ndata: shapes\nimage_size: 16\n".replace("'", '"'))
    code, out, err = cli("card", spec)
    assert code == 0, err
    assert "[/bold] x [red]y[/]" in out and "[link=file:///etc/passwd]z[/link]" in out and ":smile:" in out
    code, out, err = cli("predict", "--workload", spec, "--gpu", "h100-sxm", "--gpus", "8")
    assert code == 0, err
    assert "[/bold] x" in out
    # `rax bench compute` prints through the same console and table renderers; its stored run is
    # shown again by `rax runs show` below (hostile_store), without paying for a measurement here


# -- stored runs with hostile strings everywhere still list, show, compare, report ----------

@pytest.fixture
def hostile_store(tmp_path):
    db = tmp_path / "h.db"
    st = Store(db)
    ids = []
    for _ in range(2):
        rid = st.new_run("compute", workload=HOSTILE, note=HOSTILE, params={"workload": HOSTILE, "device": HOSTILE})
        st.add_point(rid, "compute", HOSTILE, "failed", params={"batch": 1, "precision": HOSTILE}, error=HOSTILE)
        st.add_point(rid, "compute", "train/fp32/b1", "ok", params={"batch": 1, "precision": "fp32", "mode": "train"},
                     result={"summary": {"median": 0.1}, "note": HOSTILE}, samples=[0.1, 0.11])
        st.put_artifact(rid, "card", {"name": HOSTILE, "model": HOSTILE})
        st.finish_run(rid)
        ids.append(rid)
    return str(db), ids


def test_hostile_stored_runs_list_show_and_compare(hostile_store):
    db, (a, b) = hostile_store
    for argv in (("runs", "list"), ("runs", "show", a, "--samples"), ("runs", "compare", a, b),
                 ("runs", "show", a, "--json"), ("runs", "list", "--json")):
        code, out, err = cli(*argv, "--store", db)
        assert code == 0, (argv, err)
        _visible(out + err)
        if "--json" not in argv:
            assert "[/bold] x" in out, argv


def test_hostile_stored_runs_render_clean_reports(hostile_store, tmp_path):
    db, (a, _) = hostile_store
    for fmt in ("md", "html"):
        out = tmp_path / f"r.{fmt}"
        code, _, err = cli("report", a, "--format", fmt, "--store", db, "--out", out)
        assert code == 0, err
        _visible(out.read_text(encoding="utf-8"))
    code, out, err = cli("report", a, "--format", "md", "--store", db, "--out", "-")
    assert code == 0 and "[/bold] x" in out.replace("\\", ""), err
    _visible(out)


def test_an_error_naming_a_hostile_path_is_one_clean_line(tmp_path):
    code, _, err = cli("card", tmp_path / "x\x1b]0;pwned\x07\x1b[2J.yaml")
    _visible(assert_cli_error(code, err))


# -- fuzz: any text through the console, the Markdown and the HTML renderers ------------------

TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=40) | st.sampled_from(
    [MARKUP, CONTROLS, "[", "]", "\\[", "[/]", "[bold]", "\x1b", "\x1b[", "\x9b", "\x1b]", "[@click=x]"])


@fuzz(0.5)
@given(st.lists(TEXT, min_size=1, max_size=4))
def test_fuzz_any_text_prints_and_renders_clean(parts):
    from rich.table import Table

    from raxlab.report import html, markdown

    buf = io.StringIO()
    con = safe_console(file=buf, width=100, force_terminal=True, color_system=None)
    t = Table(title=parts[0])
    t.add_column(parts[-1])
    t.add_row(*parts[:1])
    con.print(*parts)
    con.print(t)
    _visible(buf.getvalue())
    for esc in (html.esc, markdown.esc):
        _visible(esc("".join(parts)))
    COUNTS[("terminal text", "accepted")] += 1


def test_no_module_relies_on_rich_markup():
    """The console never parses markup, so a `[bold]` literal would print as is and an `escape()`
    would print its backslashes: style with `style=` / `cli.common.styled` instead."""
    import pathlib

    src = pathlib.Path(__file__).resolve().parents[2] / "src" / "raxlab"
    tag = re.compile(r"(?<![\w)\]])\[/?(bold|dim|italic|underline|red|green|yellow|blue|cyan|magenta|white|link)\b[^\]]*\]")
    bad = [f"{p.relative_to(src)}:{i}" for p in src.rglob("*.py") if p.name != "textsafe.py"
           for i, line in enumerate(p.read_text().splitlines(), 1)
           if (tag.search(line) and not line.lstrip().startswith("#") and '"""' not in line and "`" not in line)
           or "rich.markup" in line]
    assert not bad, "Rich markup in: " + ", ".join(bad)
