"""Shared pieces of the fuzz tests: example budget, strategies of junk, and the one rule.

The rule: a loader either accepts its input or raises `RaxError` whose message is one
non-empty line; anything else escaping (a traceback) fails the test and hypothesis
shrinks it to the smallest input that escapes. `check(target, fn, ...)` applies the rule
and counts every case tried per target and outcome, so the session can report how many
inputs were thrown at each loader (`COUNTS`, printed by conftest's terminal summary).

Budget: `RAX_FUZZ_EXAMPLES` (default 150) examples per target in CI; `make soak` or a
manual run sets it higher. Expensive targets take a fraction of it (`examples(weight)`).

Randomness: with the default budget (CI, `make test`) hypothesis is derandomized, so the gate
runs the same cases every time and a red build always reproduces; whenever
`RAX_FUZZ_EXAMPLES` is set (`make soak`, a hunt by hand) every run draws new cases and finds
new escapes, which then become fixes and regression tests.
"""

from __future__ import annotations

import collections
import os
import string
from typing import Any, Callable

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from raxlab.errors import RaxError

COUNTS: collections.Counter = collections.Counter()  # (target, outcome) -> cases
DEFAULT_EXAMPLES = 150


def examples(weight: float = 1.0) -> int:
    return max(10, int(int(os.environ.get("RAX_FUZZ_EXAMPLES", DEFAULT_EXAMPLES)) * weight))


def fuzz(weight: float = 1.0) -> settings:
    """Hypothesis settings for one fuzz target: no deadline (the host is shared and loaded)."""
    return settings(max_examples=examples(weight), deadline=None, print_blob=True,
                    derandomize="RAX_FUZZ_EXAMPLES" not in os.environ,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much, HealthCheck.large_base_example])


def check(target: str, fn: Callable, *args, **kwargs) -> Any:
    """Call `fn`; a RaxError must be one non-empty line. Returns the value or the RaxError."""
    try:
        value = fn(*args, **kwargs)
    except RaxError as exc:
        msg = str(exc)
        assert msg.strip() and len(msg.splitlines()) == 1, f"not one line: {msg!r}"
        COUNTS[(target, "RaxError")] += 1
        return exc
    COUNTS[(target, "accepted")] += 1
    return value


# -- strategies of junk --------------------------------------------------------------------

HUGE_INTS = st.sampled_from([2**63, -(2**63) - 1, 10**30, 10**400, -1, 0])
FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([1e308, -0.0, 5e-324])
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), HUGE_INTS, FLOATS, st.text(max_size=30),
    st.binary(max_size=12), st.dates(), st.sampled_from(["", "\0", "a\0b", "x" * 5000, "../../etc/passwd", "~",
                                                       "/dev/null", "-1", "nan", "1e999", "\u202e\u0000",
                                                       "~no-such-user-rax/x.txt"]),
)
KEYS = st.one_of(st.text(max_size=12), st.integers(), st.none(), st.booleans(), st.sampled_from(["", "__class__"]))


def junk(max_leaves: int = 12) -> st.SearchStrategy:
    """Any YAML/JSON-like value: scalars, lists and mappings (non-string keys too), nested."""
    return st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(KEYS, inner, max_size=4), max_leaves=max_leaves)


def nested(depth: int, leaf: Any = 1, mapping: bool = False) -> Any:
    """A value nested `depth` levels deep (built iteratively: no recursion here)."""
    v = leaf
    for _ in range(depth):
        v = {"a": v} if mapping else [v]
    return v


YAML_CHARS = string.ascii_letters[:6] + string.digits[:4] + ":-[]{}&*!|>'\"#%@`,?. \n\t\\~"
YAML_JUNK = st.text(alphabet=YAML_CHARS, max_size=120)


@st.composite
def mutated(draw, text: str) -> str:
    """`text` with a few random edits: delete, insert, replace or truncate."""
    chars = list(text)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["del", "ins", "rep", "cut"]))
        i = draw(st.integers(0, max(0, len(chars) - 1)))
        c = draw(st.sampled_from(list(YAML_CHARS)) | st.characters())
        if op == "del" and chars:
            del chars[i]
        elif op == "ins":
            chars.insert(i, c)
        elif op == "rep" and chars:
            chars[i] = c
        elif op == "cut":
            del chars[i:]
    return "".join(chars)


ENCODINGS = st.sampled_from(["utf-16", "utf-16-le", "utf-32", "latin-1", "cp1252", "utf-8-sig", "shift_jis"])


def encode(text: str, encoding: str) -> bytes:
    return text.encode(encoding, errors="replace")
