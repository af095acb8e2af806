"""The PostgreSQL cases are never silently absent: skipped with the reason, failed in CI."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_store_tests_run_on_both_backends_always(request: pytest.FixtureRequest) -> None:
    """Whether or not PostgreSQL is there: each store test has a PostgreSQL case."""
    here = Path(__file__).with_name("conftest.py")
    (conftest,) = [
        p
        for p in request.config.pluginmanager.get_plugins()
        if getattr(p, "__file__", None) and Path(p.__file__) == here
    ]
    assert conftest.BACKENDS == ["sqlite", "postgresql"]


@pytest.mark.parametrize("ci", ["", "true"])
def test_without_postgresql_a_case_is_a_visible_skip_or_a_ci_failure(
    ci: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MODELLOOP_TEST_POSTGRES_URL", raising=False)
    monkeypatch.setenv("CI", ci)
    outcome = pytest.fail.Exception if ci else pytest.skip.Exception
    with pytest.raises(outcome) as caught:
        request.getfixturevalue("postgres_url")
    message = str(caught.value)
    assert "no PostgreSQL: MODELLOOP_TEST_POSTGRES_URL is not set" in message
    assert ("a missing service is a failure" in message) == bool(ci)
