"""Small HTML building blocks for the notebook views (``_repr_html_``) of modelloop objects.

Everything shown is escaped; a view is one ``<div class="modelloop">`` with a heading, a
line of facts and tables, styled inline so that it reads the same in Jupyter, VS Code and
an exported notebook.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["cell", "html_table", "html_view"]

_STYLE = (
    "font-family:system-ui,sans-serif;font-size:13px;line-height:1.4;"
    "border:1px solid #ccc;border-radius:6px;padding:8px 12px;max-width:60em"
)
_TABLE = "border-collapse:collapse;margin:4px 0 8px 0"
_CELL = "padding:2px 8px;border-bottom:1px solid #eee;text-align:left"


def cell(value: Any, digits: int = 4) -> str:
    """One value as table text: numbers rounded, missing as '—'.

    >>> cell(0.123456), cell(None), cell(float("nan")), cell(3), cell("a<b")
    ('0.1235', '—', '—', '3', 'a<b')
    """
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return (
            "—"
            if not math.isfinite(value)
            else f"{value:.{digits}g}"
            if abs(value) >= 1e4
            else f"{value:.{digits}f}"
        )
    return str(value)


def html_table(columns: Sequence[str], rows: Iterable[Sequence[Any]], *, limit: int = 20) -> str:
    """An HTML table of ``rows`` (at most ``limit``, then a line saying how many more).

    >>> html_table(["a", "b"], [[1, "<x>"]])  # doctest: +ELLIPSIS
    '<table ...><tr><th ...>a</th><th ...>b</th></tr><tr><td ...>1</td><td ...>&lt;x&gt;</td></tr></table>'
    """
    rows = list(rows)
    head = "".join(f'<th style="{_CELL}">{html.escape(str(c))}</th>' for c in columns)
    body = "".join(
        "<tr>" + "".join(f'<td style="{_CELL}">{html.escape(cell(v))}</td>' for v in row) + "</tr>"
        for row in rows[:limit]
    )
    more = (
        f'<p style="margin:0;color:#666">… and {len(rows) - limit} more rows</p>'
        if len(rows) > limit
        else ""
    )
    return f'<table style="{_TABLE}"><tr>{head}</tr>{body}</table>{more}'


def html_view(title: str, facts: Sequence[str], sections: Sequence[tuple[str, str]] = ()) -> str:
    """The whole view: ``title``, a line of ``facts``, then ``(heading, html)`` sections.

    >>> html_view("run", ["binary"], [("Metrics", "<table></table>")])  # doctest: +ELLIPSIS
    '<div class="modelloop" ...><strong>run</strong>...Metrics...</div>'
    """
    parts = [f'<div class="modelloop" style="{_STYLE}"><strong>{html.escape(title)}</strong>']
    if facts:
        parts.append(
            '<div style="color:#444">' + " · ".join(html.escape(f) for f in facts) + "</div>"
        )
    for heading, content in sections:
        parts.append(f'<div style="margin-top:6px;font-weight:600">{html.escape(heading)}</div>')
        parts.append(content)
    parts.append("</div>")
    return "".join(parts)
