"""Model names, aliases and references."""

from __future__ import annotations

import pytest

from modelloop.exceptions import InvalidInputError
from modelloop.store._refs import (
    ModelRef,
    check_alias,
    check_model_name,
    format_versions,
    parse_ref,
    suggest,
)


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("churn", ModelRef("churn")),
        ("churn@production", ModelRef("churn", alias="production")),
        ("churn:3", ModelRef("churn", version=3)),
        ("churn/3", ModelRef("churn", version=3)),
        ("my.model-v2_x:12", ModelRef("my.model-v2_x", version=12)),
        (" churn@prod ", ModelRef("churn", alias="prod")),
    ],
)
def test_parse_ref_valid(ref: str, expected: ModelRef) -> None:
    assert parse_ref(ref) == expected


@pytest.mark.parametrize(
    "ref",
    [
        "",
        "churn:",
        "churn@",
        "churn:x",
        "churn@1",
        "a b",
        "-x",
        "churn:1@prod",
        "../etc",
        "x" * 129,
    ],
)
def test_parse_ref_malformed(ref: str) -> None:
    with pytest.raises(InvalidInputError, match="malformed: expected 'name', 'name@alias'"):
        parse_ref(ref)


@pytest.mark.parametrize("name", ["", "-churn", "a/b", "..", "x" * 129, "é", 3])
def test_check_model_name_rejects(name: object) -> None:
    with pytest.raises(InvalidInputError, match="A model name must start with"):
        check_model_name(name)


@pytest.mark.parametrize("alias", ["", "1", "123", "9lives", "a b", "a.b", "a@b"])
def test_check_alias_rejects(alias: str) -> None:
    with pytest.raises(InvalidInputError, match="An alias must start with a letter"):
        check_alias(alias)


def test_check_alias_accepts() -> None:
    assert check_alias("champion-2_b") == "champion-2_b"


def test_suggest_finds_close_names() -> None:
    assert suggest("chrun", ["churn", "iris"]) == "churn"
    assert suggest("Churn", ["churn"]) == "churn"
    assert suggest("zzz", ["churn", "iris"]) is None


def test_format_versions_short_and_long() -> None:
    assert format_versions([1, 2, 3]) == "1, 2, 3"
    assert format_versions([*range(1, 41), 42]) == "1-40, 42"
