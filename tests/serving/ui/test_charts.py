"""Inline SVG charts."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from modelloop.serving.ui._charts import Series, bar_chart, line_chart

SVG = "{http://www.w3.org/2000/svg}"


def test_line_chart_draws_one_polyline_per_series_and_parses_as_svg() -> None:
    svg = line_chart(
        "Score",
        [Series("a", [(1, 0.5), (2, 0.7)]), Series("b", [(1, 0.6), (3, 0.4)], dashed=True)],
        x_label="trial",
        y_label="auc",
    )
    root = ET.fromstring(str(svg))
    lines = root.findall(f"{SVG}polyline")
    assert [p.get("data-series") for p in lines] == ["a", "b"]
    assert lines[1].get("stroke-dasharray") == "5 4"
    assert len(root.findall(f"{SVG}circle")) == 4


def test_line_chart_escapes_names() -> None:
    svg = line_chart("<b>", [Series("x<y", [(0, 1), (1, 2)])], x_label="&", y_label='"')
    ET.fromstring(str(svg))
    assert "<b>" not in str(svg) and "x&lt;y" in str(svg)


def test_line_chart_without_points_says_so() -> None:
    svg = line_chart("Score", [Series("a", [])], x_label="x", y_label="y", empty="nothing here")
    assert "nothing here" in svg and "polyline" not in svg


def test_line_chart_of_a_single_point_has_a_finite_scale() -> None:
    svg = str(line_chart("One", [Series("a", [(5, 2.0)])], x_label="x", y_label="y"))
    ET.fromstring(svg)
    assert "nan" not in svg and "inf" not in svg


def test_bar_chart_draws_a_bar_per_finite_value() -> None:
    svg = bar_chart(
        "CV", [("lightgbm", 0.9), ("knn", float("nan")), ("ridge", 0.7)], value_label="auc"
    )
    root = ET.fromstring(str(svg))
    titles = [r.find(f"{SVG}title").text for r in root.findall(f"{SVG}rect")]
    assert titles == ["lightgbm: 0.9", "ridge: 0.7"]


def test_bar_chart_without_values_says_so() -> None:
    assert "no data yet" in bar_chart("CV", [], value_label="auc")
