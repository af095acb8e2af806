"""JSON API sources against a real local HTTP server: pagination, retries, auth, bad input."""

from __future__ import annotations

import pytest

from modelloop.data import HttpOptions, flatten_records, load, read_json_api, redact_url
from modelloop.exceptions import ConfigurationError, EmptyDataError, InvalidInputError

FAST = {"backoff": 0.01, "timeout": 5.0}


def test_read_json_api_pages_by_page_number_with_records_path(http_server) -> None:
    opts = HttpOptions(
        records="data.items", page_param="page", limit_param="per_page", page_size=3, **FAST
    )
    frame, desc, name = read_json_api(http_server.url("/users"), opts)
    assert frame["id"].tolist() == list(range(1, 8))
    assert [q["page"] for _, q, _, _ in http_server.log] == ["1", "2", "3"]
    assert name == "users" and desc.endswith("/users")


def test_read_json_api_flattens_nested_objects_and_lists(http_server) -> None:
    frame, _, _ = read_json_api(
        http_server.url("/offset"),
        HttpOptions(offset_param="offset", limit_param="limit", page_size=3, **FAST),
    )
    assert {"address.city", "address.zip", "tags"} <= set(frame.columns)
    assert frame.loc[0, "address.city"] == "Rome" and frame.loc[1, "tags"] == '["a", "b"]'
    assert [q["offset"] for _, q, _, _ in http_server.log] == ["0", "3", "6"]


def test_read_json_api_follows_next_field(http_server) -> None:
    opts = HttpOptions(records="results", next_field="links.next", **FAST)
    frame, _, _ = read_json_api(http_server.url("/cursor"), opts)
    assert frame["id"].tolist() == list(range(1, 8))
    assert len(http_server.log) == 3


def test_read_json_api_follows_link_header(http_server) -> None:
    frame, _, _ = read_json_api(http_server.url("/linked"), HttpOptions(**FAST))
    assert frame["id"].tolist() == list(range(1, 8))
    assert len(http_server.log) == 2


def test_read_json_api_retries_a_flaky_endpoint_until_it_recovers(http_server) -> None:
    frame, _, _ = read_json_api(http_server.url("/flaky"), HttpOptions(retries=3, **FAST))
    assert frame["x"].tolist() == [1, 2]
    assert http_server.httpd.hits["/flaky"] == 3


def test_read_json_api_honours_429_then_succeeds(http_server) -> None:
    frame, _, _ = read_json_api(http_server.url("/ratelimited"), HttpOptions(**FAST))
    assert len(frame) == 1 and http_server.httpd.hits["/ratelimited"] == 2


def test_read_json_api_gives_up_after_retries_with_status(http_server) -> None:
    with pytest.raises(InvalidInputError, match=r"answered HTTP 500.*Try again later"):
        read_json_api(http_server.url("/broken"), HttpOptions(retries=2, **FAST))
    assert http_server.httpd.hits["/broken"] == 3


def test_read_json_api_times_out_on_a_slow_endpoint(http_server) -> None:
    with pytest.raises(InvalidInputError, match=r"did not answer within 0.2 s"):
        read_json_api(http_server.url("/slow"), HttpOptions(timeout=0.2, retries=0))


def test_read_json_api_rate_limit_spaces_requests(http_server) -> None:
    opts = HttpOptions(
        records="data.items",
        page_param="page",
        limit_param="per_page",
        page_size=3,
        rate_limit=10,
        **FAST,
    )
    read_json_api(http_server.url("/users"), opts)
    times = [t for *_, t in http_server.log]
    # three requests at most 10 per second: the sleeps alone make the span >= 0.2 s
    assert len(times) == 3 and times[-1] - times[0] >= 0.15


def test_read_json_api_expands_auth_header_from_environment(http_server) -> None:
    opts = HttpOptions(headers={"Authorization": "Bearer ${API_TOKEN}"}, **FAST)
    frame, desc, _ = read_json_api(http_server.url("/auth"), opts, environ={"API_TOKEN": "s3cret"})
    assert frame["secret_ok"].tolist() == [1, 2]
    assert http_server.log[0][2]["Authorization"] == "Bearer s3cret"
    assert "s3cret" not in desc


def test_read_json_api_missing_env_variable_is_named_not_shown(http_server) -> None:
    opts = HttpOptions(headers={"Authorization": "Bearer ${API_TOKEN}"}, **FAST)
    with pytest.raises(ConfigurationError, match=r"\$API_TOKEN, which is not set"):
        read_json_api(http_server.url("/auth"), opts, environ={})
    assert http_server.log == []


def test_read_json_api_unauthorized_hints_at_header(http_server) -> None:
    with pytest.raises(InvalidInputError, match=r"HTTP 401.*--header"):
        read_json_api(http_server.url("/auth"), HttpOptions(**FAST))


def test_read_json_api_404_is_one_clear_error(http_server) -> None:
    with pytest.raises(InvalidInputError, match=r"answered HTTP 404.*Check the URL's path"):
        read_json_api(http_server.url("/nope"), HttpOptions(**FAST))


def test_read_json_api_non_json_response(http_server) -> None:
    with pytest.raises(
        InvalidInputError, match=r"did not answer with JSON \(content type text/html"
    ):
        read_json_api(http_server.url("/notjson"), HttpOptions(**FAST))


def test_read_json_api_missing_records_path_lists_existing_keys(http_server) -> None:
    with pytest.raises(InvalidInputError, match=r"no 'rows' \(keys at data: 'items'\)"):
        read_json_api(http_server.url("/users"), HttpOptions(records="data.rows", **FAST))


def test_read_json_api_object_without_records_path_lists_keys(http_server) -> None:
    with pytest.raises(InvalidInputError, match=r"records='data.items'.*Keys: 'data', 'meta'"):
        read_json_api(http_server.url("/users"), HttpOptions(**FAST))


def test_read_json_api_scalar_response(http_server) -> None:
    with pytest.raises(InvalidInputError, match=r"holds a JSON number, not records"):
        read_json_api(http_server.url("/scalar"), HttpOptions(**FAST))


def test_read_json_api_unreachable_host(closed_port_url) -> None:
    with pytest.raises(InvalidInputError, match=r"cannot be reached.*Check the host name"):
        read_json_api(closed_port_url, HttpOptions(retries=1, backoff=0.01))


def test_http_options_refuse_bad_values() -> None:
    with pytest.raises(ConfigurationError, match="not both"):
        HttpOptions(page_param="p", offset_param="o").check()
    with pytest.raises(ConfigurationError, match="retries must be an integer >= 0"):
        HttpOptions(retries=-1).check()


def test_load_url_types_columns_like_a_file(http_server) -> None:
    ds = load(http_server.url("/offset"), http=HttpOptions(**FAST))
    assert ds.frame["address.zip"].dtype == "float64"
    assert ds.schema["address.city"].role.value == "categorical"
    assert ds.source == http_server.url("/offset") and ds.name == "offset"


def test_redact_url_masks_secrets() -> None:
    assert redact_url("https://x:y@h/p?token=abc&q=1") == "https://h/p?token=***&q=1"


def test_flatten_records_refuses_non_objects() -> None:
    with pytest.raises(InvalidInputError, match="must be JSON objects"):
        flatten_records([{"a": 1}, 3])


def test_read_json_api_empty_result_is_empty_data(http_server) -> None:
    opts = HttpOptions(records="data.items", page_param="page", start_page=9, **FAST)
    with pytest.raises(EmptyDataError, match="returned no records"):
        read_json_api(http_server.url("/users"), opts)
