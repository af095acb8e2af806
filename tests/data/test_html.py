"""HTML tables from a local file and from a real local HTTP server."""

from __future__ import annotations

import pytest

from modelloop.data import HttpOptions, load, parse_number_text, read_html_table, read_table
from modelloop.exceptions import ConfigurationError, InvalidInputError


@pytest.fixture
def page_file(tmp_path):
    path = tmp_path / "prices.html"
    path.write_text(
        "<table><tr><th>a</th></tr><tr><td>1</td></tr></table>"
        "<table id='prices'><tr><th>item</th><th>price</th><th>share</th></tr>"
        "<tr><td>x</td><td>€1,000</td><td>50%</td></tr>"
        "<tr><td>y</td><td>(2.5)</td><td>25 %</td></tr></table>",
        encoding="utf-8",
    )
    return path


def test_parse_number_text_handles_people_formats() -> None:
    assert parse_number_text("$1,234.50") == 1234.5
    assert parse_number_text("12.5%") == 0.125
    assert parse_number_text("(3)") == -3.0
    assert parse_number_text("1,23") is None
    assert parse_number_text("12 apples") is None


def test_load_html_file_second_table_by_index(page_file) -> None:
    ds = load(page_file, table=1)
    assert ds.frame["price"].tolist() == [1000.0, -2.5]
    assert ds.frame["share"].tolist() == [0.5, 0.25]
    assert ds.name == "prices"


def test_load_html_file_by_selector(page_file) -> None:
    frame, _, _ = read_table(page_file, selector="table#prices")
    assert list(frame.columns) == ["item", "price", "share"]


def test_load_html_url_by_selector_parses_numbers(http_server) -> None:
    ds = load(http_server.url("/prices"), selector="div.main", http=HttpOptions(backoff=0.01))
    frame = ds.frame
    assert frame["price"].tolist() == [1234.5, 5.0, 0.99]
    assert frame["stock"].tolist()[:2] == [12000.0, 7.0]
    assert frame["stock"].isna().tolist() == [False, False, True]
    assert frame["change"].tolist() == [0.125, -0.03, 0.0]


def test_load_html_url_first_table_by_default(http_server) -> None:
    ds = load(http_server.url("/page.html"))
    assert list(ds.frame.columns) == ["a", "b"]


def test_html_page_without_tables_is_one_clear_error(http_server) -> None:
    with pytest.raises(InvalidInputError, match=r"has no HTML tables"):
        load(http_server.url("/empty.html"))


def test_html_table_index_out_of_range(page_file) -> None:
    with pytest.raises(InvalidInputError, match=r"has 2 table\(s\); table=5 is out of range"):
        load(page_file, table=5)


def test_html_selector_matching_no_table(page_file) -> None:
    with pytest.raises(InvalidInputError, match=r"no table matching selector 'p.none'"):
        load(page_file, selector="p.none")


def test_html_invalid_selector() -> None:
    with pytest.raises(ConfigurationError, match="not a valid CSS selector"):
        read_html_table("<table><tr><td>1</td></tr></table>", selector="table[")


def test_html_404_page(http_server) -> None:
    with pytest.raises(InvalidInputError, match="HTTP 404"):
        load(http_server.url("/gone.html"), http=HttpOptions(backoff=0.01))
