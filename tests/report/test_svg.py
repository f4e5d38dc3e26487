"""The SVG kit: axes and ticks, escaping, empty data."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from raxlab.report import fmt
from raxlab.report.svg import Axis, Plot, _Scale, stacked_bars


def test_log_ticks_use_1_2_5_steps_inside_one_decade():
    s = _Scale(Axis("t", log=True), [3.0, 14.0], 0, 100)
    ticks = s.ticks()
    assert ticks == [5.0, 10.0] or ticks[:3] == [5.0, 10.0, 20.0] or len(ticks) >= 2
    assert all(3.0 * 0.8 <= t <= 14.0 * 1.25 for t in ticks)


def test_log_base2_ticks_are_powers_of_two():
    assert _Scale(Axis("batch", log=True, base=2), [1, 2], 0, 100).ticks() == [1.0, 2.0]
    assert _Scale(Axis("bytes", log=True, base=2), [1024, 2**20], 0, 100).ticks()[0] >= 1024


def test_linear_ticks_include_zero_when_asked():
    ticks = _Scale(Axis("ms", zero=True), [12.0, 48.0], 0, 100).ticks()
    assert ticks[0] == 0 and ticks[-1] >= 40


def test_plot_is_well_formed_xml_and_escapes_names():
    p = Plot(Axis("x <b>", log=True, base=2), Axis("y & z"))
    p.line([1, 2, 4], [1.0, 2.0, 3.0], "<script>alert(1)</script>", tips=["a<b", "c", "d"])
    p.star(2, 2.0, "recommended")
    p.vline(3, "deadline <now>")
    svg = p.render()
    ET.fromstring(svg)  # parses: every text was escaped
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert svg.count('class="mark"') == 1 + 3 + 1  # the line, its 3 markers, the star


def test_points_outside_a_log_axis_are_left_out_not_drawn_at_minus_infinity():
    p = Plot(Axis("x", log=True), Axis("y", log=True))
    p.points([0, 1, 10], [1.0, None, 5.0], "s")
    svg = p.render()
    ET.fromstring(svg)
    assert svg.count('class="mark"') == 1


def test_stacked_bars_with_a_limit_line():
    svg = stacked_bars(["a <1>", "b"], [("weights", [1.0, 2.0]), ("activations", [3.0, None])],
                       value_fmt=fmt.g, axis_label="GiB", limit=("GPU memory", 80.0))
    ET.fromstring(svg)
    assert svg.count('class="mark"') == 3 and "a &lt;1&gt;" in svg
