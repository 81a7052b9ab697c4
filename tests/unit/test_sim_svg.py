"""The report's SVG charts (keel/sim/svg.py): ticks, histogram, percentiles, rendering."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from keel.sim.svg import Chart, fmt, histogram, nice_ticks, percentile

NS = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize("low, high", [(0, 1), (0.3, 97.2), (1_000, 250_000), (-5, 5), (1.45, 1.62)])
def test_nice_ticks__any_range__cover_it_in_round_steps(low, high):
    ticks = nice_ticks(low, high)
    assert ticks[0] <= low and ticks[-1] >= high - 1e-9
    steps = {round(b - a, 9) for a, b in zip(ticks, ticks[1:])}
    assert len(steps) == 1
    step = steps.pop()
    mantissa = step / 10 ** __import__("math").floor(__import__("math").log10(step))
    assert round(mantissa, 6) in (1, 2, 5, 10)
    assert 2 <= len(ticks) <= 12


def test_nice_ticks__empty_range__still_two_ticks():
    assert len(nice_ticks(3.0, 3.0)) >= 2


def test_histogram__counts_every_value_once__max_in_last_bin():
    values = [0, 1, 1, 2, 9.99, 10]
    edges, counts = histogram(values, 5)
    assert len(edges) == 6 and sum(counts) == len(values)
    assert counts[-1] == 2 and counts[0] == 3  # 0, 1, 1 in [0, 2); 9.99 and 10 in the last


def test_percentile__interpolates_between_sorted_values():
    values = [1.0, 2.0, 3.0, 4.0]
    assert percentile(values, 0) == 1 and percentile(values, 1) == 4
    assert percentile(values, 0.5) == 2.5
    assert percentile([], 0.5) == 0.0


def test_fmt__labels_are_short():
    assert fmt(2_500_000) == "2.5M" and fmt(3_000_000) == "3M" and fmt(12_345) == "12,345" and fmt(1.5) == "1.5"


def test_chart__every_item_kind__renders_valid_svg_with_its_marks():
    chart = Chart("t & <b>", "x", "y", y_from_zero=True)
    chart.line([(0, 1), (1, 2), (2, 1.5)], "line")
    chart.band([(0, 0.5), (2, 0.5)], [(0, 2.5), (2, 2.5)], "band")
    chart.points([(0.5, 1), (1.5, 2)], "points")
    chart.bars([0, 1, 2], [3, 4], "bars")
    chart.hline(1.5, "h")
    chart.vline(1.0, "v")
    root = ET.fromstring(chart.svg())  # well-formed XML, the title escaped
    assert root.tag == NS + "svg"
    assert root.find(NS + "text").text == "t & <b>"
    assert len(root.findall(NS + "polyline")) == 1
    assert len(root.findall(NS + "polygon")) == 1
    assert len(root.findall(NS + "circle")) == 2
    # two bars, plus the background, the frame and one legend swatch per labelled item
    assert len(root.findall(NS + "rect")) == 2 + 2 + 6


def test_chart__points_land_inside_the_plot_area():
    chart = Chart("t", "x", "y", width=400, height=200)
    chart.points([(0, 0), (10, 100)])
    circles = ET.fromstring(chart.svg()).findall(NS + "circle")
    xs = [float(c.get("cx")) for c in circles]
    ys = [float(c.get("cy")) for c in circles]
    assert all(70 <= x <= 380 for x in xs) and all(34 <= y <= 152 for y in ys)
    assert xs[0] < xs[1] and ys[0] > ys[1]  # y grows upward
