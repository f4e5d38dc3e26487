"""The one formatting module: every rule in raxlab/fmt.py's docstring, and the disagreements it
replaced (`$1e+03k`, `$3.33e-03`, GB vs GiB for memory)."""

import math

import pytest

from raxlab import fmt


@pytest.mark.parametrize("v, text", [
    (950, "$950"), (13_200, "$13.2k"), (1.19e6, "$1.19M"), (2.5e9, "$2.5B"), (0, "$0"), (-1234, "-$1.23k"),
    (999.7, "$1k"), (999_950, "$1M"),            # rounds up into the next unit: never "$1e+03k"
    (0.00333, "$0.00333"), (5.9e-5, "$0.000059"),  # per-unit costs: never "$3.33e-03"
    (None, "N/A"), (math.nan, "N/A"), (math.inf, "N/A"),
])
def test_money(v, text):
    assert fmt.usd(v) == text


@pytest.mark.parametrize("v, text", [
    (5.11 * 86400, "5.11 days"), (36 * 3600, "36 h"), (90, "90 s"), (0.5, "500 ms"), (2.3e-4, "230 µs"),
    (3 * 365.25 * 86400, "3 years"), (0, "0 s"), (None, "N/A"),
])
def test_durations(v, text):
    assert fmt.seconds(v) == text


def test_memory_is_binary_and_rates_are_decimal():
    assert fmt.nbytes(80 * 2**30) == "80 GiB" and fmt.nbytes(81559 * 2**20) == "79.6 GiB"
    assert fmt.nbytes(1023.9) == "1 KiB" and fmt.nbytes(500) == "500 B"
    assert fmt.si(46e9, "B/s") == "46 GB/s" and fmt.si(989e12, "FLOP/s") == "989 TFLOP/s"  # GB/s = 1e9 B/s


def test_percentages_counts_and_plain_numbers():
    assert fmt.pct(0.4237) == "42.4 %" and fmt.pct(0.00491) == "0.491 %" and fmt.signed_pct(-0.258) == "-25.8 %"
    assert fmt.signed_pct(0.064) == "+6.4 %" and fmt.pct(None) == "N/A"
    assert fmt.count(19_846) == "19,846" and fmt.count(8.03e9) == "8.03 B" and fmt.count(1e12) == "1 T"
    assert fmt.g(12_345.6) == "12,350" and fmt.g(0.000123456) == "0.0001235" and fmt.g(999.96) == "1000"


def test_no_scientific_notation_in_the_range_people_read():
    for x in (1e-8, 3.3e-3, 0.5, 7, 999.5, 1e4, 6.02e14):
        for d in (2, 3, 4):
            assert "e" not in fmt.sig(x, d), (x, d)


def test_the_other_formatters_are_this_one():
    from raxlab.plan import text
    from raxlab.predict.projection import fmt as projection_fmt
    from raxlab.report import fmt as report_fmt

    assert report_fmt.usd is fmt.usd and report_fmt.seconds is fmt.seconds
    assert text.money(5.9e-3) == fmt.usd(5.9e-3) and text.duration(441504) == fmt.seconds(441504)
    assert projection_fmt(5.206e5) == fmt.g(5.206e5) == "520,600"
