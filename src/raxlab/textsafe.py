"""Text from users made safe to show: the one sanitizer at every output boundary.

A workload name, model name, path, run note, catalogue title or error message can hold
terminal control sequences (`\\e[2J` clears the screen, `\\e]0;...\\a` retitles the window,
`\\e]8;;URL\\a` plants a link, a bare `\\r` overwrites the line) and bytes no encoder takes
(lone surrogates from undecodable file names). `clean(text)` removes every escape sequence
(ECMA-48: CSI, OSC, DCS/SOS/PM/APC strings, two-byte escapes, and their 8-bit C1 forms), every
other C0/C1 control but tab and newline, DEL, and the bidirectional overrides (U+202A-202E,
U+2066-2069: "Trojan source", text that reads differently than it is); lone surrogates become
U+FFFD. `one_line` also folds line breaks into spaces (a table cell, a one-line error).

Used by: the CLI console and stdout/stderr (`raxlab.cli.common`), the Markdown, HTML and SVG
report renderers. Rich markup is a separate matter: the CLI console never parses markup, so
`[/bold]` in a name is just text (see `raxlab.cli.common.console`).
"""

from __future__ import annotations

import re

# ECMA-48 / ISO 6429 sequences, 7-bit (ESC-introduced) and 8-bit (C1) forms.
_SEQUENCES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"                       # CSI ... final byte
    r"|\x9b[0-?]*[ -/]*[@-~]?"                        # 8-bit CSI
    r"|\x1b[\]PX^_][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC, DCS, SOS, PM, APC up to BEL or ST
    r"|[\x90\x98\x9d\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # their 8-bit forms
    r"|\x1b[ -/]*[0-~]?"                              # other escapes (ESC c resets the terminal)
)
_BIDI = [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_DROP = {c: None for c in [*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F, *range(0x80, 0xA0), *_BIDI]}
_FOLD = {**_DROP, 0x0A: " ", 0x09: " ", 0x0D: None, 0x2028: " ", 0x2029: " "}
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def clean(text: object) -> str:
    """`text` as a str without control sequences or control characters (tab and newline kept)."""
    s = text if isinstance(text, str) else str(text)
    if s.isprintable():  # the common case: nothing to do
        return s
    s = _SURROGATE.sub("\ufffd", s)
    return _SEQUENCES.sub("", s).translate(_DROP)


def one_line(text: object) -> str:
    """`clean(text)` with line breaks and tabs as spaces."""
    s = text if isinstance(text, str) else str(text)
    if s.isprintable():
        return s
    s = _SURROGATE.sub("\ufffd", s)
    return _SEQUENCES.sub("", s).translate(_FOLD)


def has_controls(text: str) -> bool:
    """True when `clean` would change `text` beyond keeping tabs/newlines (for tests and checks)."""
    return clean(text) != text


# -- the terminal boundary -------------------------------------------------------------------

class CleanStream:
    """A text stream that writes `clean(s)` to `raw`: stdout/stderr of a `rax` command, so that
    no print, warning or progress line can carry a user's control sequence to the terminal.
    Rich consoles write to `raw_stream` directly (their own styles are escape codes) and clean
    the user's text themselves (`safe_console`)."""

    def __init__(self, raw):
        self.raw_stream = raw

    @classmethod
    def around(cls, stream) -> "CleanStream":
        return stream if isinstance(stream, cls) else cls(stream)

    def write(self, s: str) -> int:
        self.raw_stream.write(clean(s))
        return len(s)

    def __getattr__(self, name):
        return getattr(self.raw_stream, name)


def raw(stream):
    """The stream under a CleanStream (or `stream` itself)."""
    return getattr(stream, "raw_stream", stream)


def safe_console(**kwargs):
    """A rich Console that never parses markup or emoji codes in the text it prints (a name
    `[/bold] x` is text, not a MarkupError) and removes control characters from every string
    and segment it renders. Style with `style=` or `rich.text.Text.assemble`, not `[bold]`."""
    import sys

    from rich.console import Console
    from rich.segment import Segment

    class _SafeConsole(Console):
        def render_str(self, text, **kw):
            kw["markup"] = False
            kw["emoji"] = False
            return super().render_str(clean(text), **kw)

        def render(self, renderable, options=None):
            for seg in super().render(renderable, options):
                if seg.control or seg.text.isprintable() or seg.text == "\n":
                    yield seg
                else:
                    yield Segment(clean(seg.text), seg.style, seg.control)

    kwargs.setdefault("file", raw(sys.stdout))
    return _SafeConsole(markup=False, emoji=False, **kwargs)
