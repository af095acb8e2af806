"""HTTP sources: JSON APIs (records path, pagination, retries, rate limit) and raw page fetches.

Everything here returns *raw* frames; typing is the job of inference. Header values may
name environment variables (``"Bearer ${API_TOKEN}"``); they are expanded only when the
request is sent, and neither the values nor the expanded headers are ever put in a
message, a description or the store (descriptions keep the URL with secret-looking query
values masked).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import pandas as pd

from modelloop.config import environment
from modelloop.exceptions import ConfigurationError, EmptyDataError, InvalidInputError

__all__ = [
    "HttpOptions",
    "fetch",
    "flatten_records",
    "is_http_url",
    "read_json_api",
    "redact_url",
]

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_SECRET_KEY = re.compile(r"(key|token|secret|password|passwd|sig|auth)", re.IGNORECASE)
_MAX_RETRY_AFTER = 30.0


def is_http_url(source: str) -> bool:
    """True for ``http://`` and ``https://`` URLs."""
    return source.lower().startswith(("http://", "https://"))


@dataclass(frozen=True)
class HttpOptions:
    """How to call an HTTP source.

    Parameters
    ----------
    records : str, optional
        Dotted path to the list of records in each JSON response (``'data.items'``);
        default: the response itself when it is a list, else its only list of objects.
    page_param : str, optional
        Query parameter carrying a page number (starting at ``start_page``); pages are
        fetched until one comes back empty or shorter than ``page_size``.
    offset_param : str, optional
        Query parameter carrying a row offset, advanced by the records received.
    limit_param : str, optional
        Query parameter sent with ``page_size`` (e.g. ``'limit'`` or ``'per_page'``).
    page_size : int, optional
        Records asked for per page; a shorter page ends the pagination.
    next_field : str, optional
        Dotted path to the next page's URL in each response (``'links.next'``); pagination
        ends when it is missing or null. A ``Link: <...>; rel="next"`` header is always
        followed when present.
    max_pages : int
        Stop after this many pages (a guard against endless pagination).
    headers : mapping
        Extra request headers; ``${NAME}`` in a value is replaced from the environment
        when the request is sent (the value is never stored or shown).
    params : mapping
        Extra query parameters.
    timeout : float
        Seconds to wait for connecting and for each read.
    retries : int
        Extra attempts on 429, 5xx, timeouts and connection errors.
    backoff : float
        Seconds before the first retry, doubled on each later one (a 429's ``Retry-After``
        is honoured up to 30 s).
    rate_limit : float, optional
        At most this many requests per second.
    """

    records: str | None = None
    page_param: str | None = None
    offset_param: str | None = None
    limit_param: str | None = None
    page_size: int | None = None
    start_page: int = 1
    next_field: str | None = None
    max_pages: int = 1000
    headers: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 30.0
    retries: int = 3
    backoff: float = 0.5
    rate_limit: float | None = None

    def check(self) -> None:
        """Refuse option values that cannot work, before any request is sent."""
        if self.page_param and self.offset_param:
            raise ConfigurationError(
                "Give page_param (--page-param) or offset_param (--offset-param), not both."
            )
        for label, value in (("timeout", self.timeout), ("backoff", self.backoff)):
            if (
                not isinstance(value, int | float)
                or value < 0
                or (label == "timeout" and not value)
            ):
                raise ConfigurationError(f"{label} must be a number of seconds > 0. Got {value!r}.")
        if not isinstance(self.retries, int) or self.retries < 0:
            raise ConfigurationError(f"retries must be an integer >= 0. Got {self.retries!r}.")
        if not isinstance(self.max_pages, int) or self.max_pages < 1:
            raise ConfigurationError(f"max_pages must be an integer >= 1. Got {self.max_pages!r}.")
        if self.page_size is not None and (
            not isinstance(self.page_size, int) or self.page_size < 1
        ):
            raise ConfigurationError(f"page_size must be an integer >= 1. Got {self.page_size!r}.")
        if self.rate_limit is not None and not self.rate_limit > 0:
            raise ConfigurationError(
                f"rate_limit must be a number of requests per second > 0. Got {self.rate_limit!r}."
            )


def redact_url(url: str) -> str:
    """The URL with user info and secret-looking query values masked, for messages and lineage.

    Examples
    --------
    >>> redact_url("https://u:pw@api.example.com/v1?api_key=abc&page=2")
    'https://api.example.com/v1?api_key=***&page=2'
    """
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = [
        (k, "***" if _SECRET_KEY.search(k) else v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query, safe="*"), ""))


def _expand_headers(headers: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, str]:
    expanded = {}
    for name, template in headers.items():

        def repl(match: re.Match[str], name: str = name) -> str:
            var = match.group(1) or match.group(2)
            if var not in environ:
                raise ConfigurationError(
                    f"Header '{name}' refers to ${var}, which is not set in the environment. "
                    f"Export {var} before running."
                )
            return environ[var]

        expanded[str(name)] = _ENV_REF.sub(repl, str(template))
    return expanded


class _Client:
    """One httpx client with retries, backoff and a rate limit."""

    def __init__(self, options: HttpOptions, environ: Mapping[str, str] | None) -> None:
        import httpx

        self._httpx = httpx
        self.options = options
        # Secrets come from the caller's environment by design (see the module docstring).
        headers = _expand_headers(options.headers, environment() if environ is None else environ)
        self.client = httpx.Client(
            headers={"User-Agent": "modelloop", **headers},
            timeout=httpx.Timeout(options.timeout),
            follow_redirects=True,
        )
        self._last = 0.0

    def close(self) -> None:
        self.client.close()

    def _wait_rate(self) -> None:
        if self.options.rate_limit:
            gap = 1.0 / self.options.rate_limit - (time.monotonic() - self._last)
            if gap > 0:
                time.sleep(gap)
        self._last = time.monotonic()

    def get(self, url: str, params: Mapping[str, Any] | None = None) -> Any:
        httpx = self._httpx
        shown = redact_url(url)
        attempts = self.options.retries + 1
        delay = self.options.backoff
        for attempt in range(attempts):
            last = attempt == attempts - 1
            self._wait_rate()
            try:
                response = self.client.get(url, params=dict(params) if params else None)
            except httpx.TimeoutException:
                if last:
                    raise InvalidInputError(
                        f"{shown} did not answer within {self.options.timeout:g} s "
                        f"({attempts} attempt(s)). Raise timeout= (--timeout) or try later."
                    ) from None
            except httpx.HTTPError as exc:
                if last:
                    raise InvalidInputError(
                        f"{shown} cannot be reached: {_reason(exc)}. Check the host name and "
                        "that the server is up."
                    ) from None
            else:
                if response.status_code not in _RETRY_STATUS or last:
                    return _check_status(response, shown)
                retry_after = _retry_after(response)
                if retry_after is not None:
                    time.sleep(min(retry_after, _MAX_RETRY_AFTER))
                    delay *= 2
                    continue
            time.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _retry_after(response: Any) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _check_status(response: Any, shown: str) -> Any:
    status = response.status_code
    if status < 400:
        return response
    hint = {
        401: "Pass credentials with a header, e.g. --header 'Authorization: Bearer ${TOKEN}'.",
        403: "The credentials sent do not allow this; check the header and token.",
        404: "Check the URL's path.",
        429: "The server rate-limits requests; pass rate_limit= (--rate-limit) to slow down.",
    }.get(status, "Try again later." if status >= 500 else "Check the URL and its parameters.")
    phrase = getattr(response, "reason_phrase", "") or ""
    raise InvalidInputError(f"{shown} answered HTTP {status} {phrase}. {hint}".replace("  ", " "))


def fetch(
    url: str,
    options: HttpOptions | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> tuple[bytes, str]:
    """The body and content type of one GET, with the retries and timeouts of ``options``.

    Examples
    --------
    >>> body, ctype = fetch("https://example.com/page.html")  # doctest: +SKIP
    """
    options = options or HttpOptions()
    options.check()
    client = _Client(options, environ)
    try:
        response = client.get(url, options.params)
        return response.content, response.headers.get("content-type", "")
    finally:
        client.close()


def _dig(data: Any, path: str, shown: str, what: str) -> Any:
    node = data
    walked: list[str] = []
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif (
            isinstance(node, list)
            and part.lstrip("-").isdigit()
            and -len(node) <= int(part) < len(node)
        ):
            node = node[int(part)]
        else:
            where = ".".join(walked) or "the top level"
            if isinstance(node, dict):
                keys = ", ".join(repr(k) for k in list(node)[:20]) or "(none)"
                found = f"keys at {where}: {keys}"
            else:
                found = f"{where} holds a JSON {_json_type(node)}"
            raise InvalidInputError(
                f"{what} path {path!r} does not exist in the response of {shown}: "
                f"no {part!r} ({found})."
            )
        walked.append(part)
    return node


def _json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(
        type(value), "number" if isinstance(value, int | float) else "null"
    )


def _records(data: Any, path: str | None, shown: str) -> list[Any]:
    if path:
        node = _dig(data, path, shown, "Records")
    elif isinstance(data, list):
        node = data
    elif isinstance(data, dict):
        lists = [k for k, v in data.items() if isinstance(v, list) and v and isinstance(v[0], dict)]
        if len(lists) != 1:
            keys = ", ".join(repr(k) for k in list(data)[:20]) or "(none)"
            raise InvalidInputError(
                f"The response of {shown} is a JSON object; say where its records are with "
                f"records= (--records), e.g. records='data.items'. Keys: {keys}."
            )
        node = data[lists[0]]
    else:
        raise InvalidInputError(
            f"The response of {shown} holds a JSON {_json_type(data)}, not records."
        )
    if isinstance(node, dict):
        node = [node]
    if not isinstance(node, list):
        raise InvalidInputError(
            f"Records path {path!r} in the response of {shown} holds a JSON "
            f"{_json_type(node)}, not an array of records."
        )
    return node


def _link_next(response: Any) -> str | None:
    link = response.links.get("next") if hasattr(response, "links") else None
    return link.get("url") if link else None


def _with_params(url: str, params: Mapping[str, Any]) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update({k: str(v) for k, v in params.items()})
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def read_json_api(
    url: str,
    options: HttpOptions | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> tuple[pd.DataFrame, str, str]:
    """(raw frame, description, name) of every record of a JSON API, across its pages.

    Nested objects become dotted columns (``address.city``); lists become JSON text.

    Examples
    --------
    >>> opts = HttpOptions(records="data", page_param="page", page_size=100)
    >>> frame, desc, name = read_json_api("https://api.example.com/users", opts)  # doctest: +SKIP
    """
    options = options or HttpOptions()
    options.check()
    shown = redact_url(url)
    client = _Client(options, environ)
    rows: list[Any] = []
    try:
        paged = bool(options.page_param or options.offset_param)
        page, offset = options.start_page, 0
        next_url: str | None = url
        for n_page in range(options.max_pages):
            params: dict[str, Any] = dict(options.params) if n_page == 0 or paged else {}
            if options.page_param:
                params[options.page_param] = page
            if options.offset_param:
                params[options.offset_param] = offset
            if options.limit_param and options.page_size and (paged or n_page == 0):
                params[options.limit_param] = options.page_size
            request_url = url if paged else str(next_url)
            response = client.get(request_url, params)
            try:
                data = json.loads(response.content)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                ctype = response.headers.get("content-type", "unknown")
                raise InvalidInputError(
                    f"{redact_url(request_url)} did not answer with JSON (content type {ctype}: "
                    f"{_reason(exc)}). Check the URL; for a web page use table= (--html-table)."
                ) from None
            batch = _records(data, options.records, redact_url(request_url))
            rows.extend(batch)
            if paged:
                if not batch or (options.page_size and len(batch) < options.page_size):
                    break
                page += 1
                offset += len(batch)
                continue
            following = _link_next(response)
            if following is None and options.next_field and isinstance(data, dict):
                try:
                    following = _dig(data, options.next_field, shown, "Next-link")
                except InvalidInputError:
                    following = None
            if not following or not batch:
                break
            next_url = urljoin(str(next_url), str(following))
    finally:
        client.close()
    if not rows:
        raise EmptyDataError(f"{shown} returned no records.")
    name = [p for p in urlsplit(url).path.split("/") if p]
    return flatten_records(rows, shown), shown, (name[-1].rsplit(".", 1)[0] if name else "api")


def flatten_records(records: list[Any], label: str = "the records") -> pd.DataFrame:
    """Records as a frame: nested objects as dotted columns, lists as JSON text.

    Examples
    --------
    >>> flatten_records([{"id": 1, "geo": {"lat": 1.5}, "tags": ["a", "b"]}]).to_dict("records")
    [{'id': 1, 'tags': '["a", "b"]', 'geo.lat': 1.5}]
    """
    if not all(isinstance(r, dict) for r in records):
        bad = next(r for r in records if not isinstance(r, dict))
        raise InvalidInputError(
            f"{label} must be JSON objects (records); one is a JSON {_json_type(bad)}: "
            f"{json.dumps(bad)[:60]}."
        )
    frame = pd.json_normalize(records, sep=".")
    for name in frame.columns:
        col = frame[name]
        if col.dtype == object and col.map(lambda v: isinstance(v, list | dict)).any():
            frame[name] = col.map(lambda v: json.dumps(v) if isinstance(v, list | dict) else v)
    return frame
