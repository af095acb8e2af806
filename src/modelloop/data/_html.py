"""HTML tables: pick one table of a page (by index or CSS selector) and parse its numbers.

Pages are parsed with lxml (``pandas.read_html(flavor='lxml')``); a CSS selector is turned
into XPath by cssselect. Cells such as ``1,234``, ``$5.00``, ``€ 12``, ``(3.5)`` or ``12 %``
become numbers when every non-missing value of the column parses that way.
"""

from __future__ import annotations

import io
import re
from typing import Any

import pandas as pd

from modelloop.exceptions import ConfigurationError, EmptyDataError, InvalidInputError

__all__ = ["parse_number_text", "parse_numeric_columns", "read_html_table"]

_CURRENCY = "$€£¥₹₩₽¢"
_NUMBER = re.compile(
    r"^(?P<neg>[-−–])?\s*(?P<open>\()?\s*(?P<cur>[" + _CURRENCY + r"]|[A-Z]{3}\s)?\s*"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)\s*"
    r"(?P<pct>%)?\s*(?P<cur2>[" + _CURRENCY + r"])?\s*(?P<close>\))?$"
)


def parse_number_text(value: Any) -> float | None:
    """A number written for people as a float (percent as a fraction); ``None`` if it is not one.

    Examples
    --------
    >>> [parse_number_text(v) for v in ["1,234", "$5.50", "12.5%", "(3)", "-€2", "n/a"]]
    [1234.0, 5.5, 0.125, -3.0, -2.0, None]
    """
    if not isinstance(value, str):
        return None
    match = _NUMBER.match(value.strip().replace("\u00a0", " "))
    if match is None or bool(match["open"]) != bool(match["close"]):
        return None
    number = float(match["num"].replace(",", ""))
    if match["pct"]:
        number /= 100.0
    if match["neg"] or match["open"]:
        number = -number
    return number


def parse_numeric_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns whose every non-missing value is a formatted number, as float columns.

    Examples
    --------
    >>> df = pd.DataFrame({"pop": ["1,200", "35,000"], "share": ["5%", "12.5%"], "c": ["a", "1"]})
    >>> parse_numeric_columns(df).dtypes.astype(str).tolist()
    ['float64', 'float64', 'str']
    """
    out = frame.copy()
    for name in out.columns:
        col = out[name]
        if pd.api.types.is_numeric_dtype(col):
            continue
        present = col.dropna()
        present = present[present.astype(str).str.strip() != ""]
        if present.empty:
            continue
        parsed = present.map(parse_number_text)
        if parsed.isna().any():
            continue
        values = pd.Series(float("nan"), index=col.index, dtype="float64")
        values.loc[parsed.index] = parsed.astype("float64")
        out[name] = values
    return out


def _decode(data: bytes) -> str:
    """Page bytes as text: UTF-8 (what nearly every page is), else Windows-1252."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _select(html: str, selector: str, label: str) -> str:
    import lxml.html
    from cssselect import SelectorError
    from lxml.cssselect import CSSSelector

    try:
        finder = CSSSelector(selector)
    except SelectorError as exc:
        raise ConfigurationError(
            f"selector {selector!r} is not a valid CSS selector ({exc}). "
            "Use e.g. 'table#prices' or 'div.main table'."
        ) from None
    root = lxml.html.fromstring(html)
    found = finder(root)
    tables = [el for el in found if el.tag == "table"]
    for el in found:  # a selector that names a container: take the first table inside it
        if el.tag != "table":
            tables.extend(el.iter("table"))
    if not tables:
        raise InvalidInputError(
            f"{label} has no table matching selector {selector!r} "
            f"({len(found)} element(s) matched, none a table or holding one)."
        )
    return lxml.html.tostring(tables[0], encoding="unicode")


def read_html_table(
    html: bytes | str,
    *,
    table: int | None = None,
    selector: str | None = None,
    label: str = "the page",
) -> pd.DataFrame:
    """One table of an HTML page as a raw frame, with formatted numbers parsed.

    Parameters
    ----------
    html : the page's bytes or text.
    table : 0-based index among the page's tables (or among the selector's matches); default 0.
    selector : a CSS selector for the table (or an element holding it).
    label : how messages name the page.

    Examples
    --------
    >>> page = "<table><tr><th>city</th><th>pop</th></tr><tr><td>Oslo</td><td>709,000</td></tr></table>"
    >>> read_html_table(page).to_dict("records")
    [{'city': 'Oslo', 'pop': 709000.0}]
    """
    if table is not None and (isinstance(table, bool) or not isinstance(table, int) or table < 0):
        raise ConfigurationError(f"table must be an index >= 0 for an HTML page. Got {table!r}.")
    text = html if isinstance(html, str) else _decode(html)
    if not text.strip():
        raise EmptyDataError(f"{label} is empty.")
    if selector:
        text = _select(text, selector, label)
    try:
        frames = pd.read_html(
            io.StringIO(text),
            flavor="lxml",
            thousands=None,
            keep_default_na=False,
            na_values=["", "-", "—", "–", "n/a", "N/A", "NA"],
        )
    except ValueError as exc:
        if "No tables found" in str(exc):
            raise InvalidInputError(
                f"{label} has no HTML tables (<table> elements). Check the URL, or load the "
                "data from an API with records= instead."
            ) from None
        raise InvalidInputError(f"{label} could not be parsed as HTML: {exc}") from None
    index = table or 0
    if index >= len(frames):
        raise InvalidInputError(
            f"{label} has {len(frames)} table(s); table={index} is out of range "
            f"(use 0 to {len(frames) - 1})."
        )
    frame = frames[index]
    if isinstance(frame.columns, pd.MultiIndex):
        frame.columns = [
            " ".join(dict.fromkeys(str(p) for p in col if not str(p).startswith("Unnamed")))
            for col in frame.columns
        ]
    frame.columns = [str(c) for c in frame.columns]
    frame = frame.astype({c: "str" for c in frame.columns if frame[c].dtype == object})
    return parse_numeric_columns(frame)
