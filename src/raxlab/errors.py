"""The one user-facing error type.

`RaxError` is for problems the user can fix (bad input, unknown names, impossible
layouts, a device that cannot run a precision). Anything else escaping is a bug and
keeps its traceback. The CLI prints a RaxError as one line and exits with code 2.
"""

from __future__ import annotations


class RaxError(Exception):
    """A user-facing error: one line, naming the field and what is allowed."""

    exit_code = 2

    def __init__(self, message: str, *, field: str | None = None, hint: str | None = None):
        self.field = field
        self.hint = hint
        text = str(message)
        if field:
            text = f"{field}: {text}"
        if hint:
            text = f"{text} ({hint})"
        # always one line: a field or hint can carry a user's key or path with line breaks in it
        super().__init__(" ".join(text.split()))


def closest(name: str, known: list[str] | tuple[str, ...], n: int = 3) -> list[str]:
    """Known names closest to `name`, for 'did you mean' hints."""
    import difflib

    return difflib.get_close_matches(name, list(known), n=n, cutoff=0.4)


def unknown_name(kind: str, name: str, known: list[str] | tuple[str, ...], field: str | None = None) -> RaxError:
    """A RaxError for an unknown name that lists the closest (or all) known names."""
    near = closest(name, known)
    listing = ", ".join(sorted(known)) if len(known) <= 30 else ", ".join(sorted(known)[:30]) + ", ..."
    msg = f"unknown {kind} {name!r}"
    if near:
        msg += f"; did you mean {', '.join(near)}?"
    msg += f" Known: {listing}"
    return RaxError(msg, field=field)
