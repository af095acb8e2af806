"""``modelloop runs list|compare``: keyset pages, metric filters and order, side by side."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from modelloop.config import Settings
from modelloop.store import Store


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables as wide as they need: ids and values are not cut to fit 80 columns."""
    from modelloop.cli._common import out

    monkeypatch.setattr(out, "_width", 250)


@pytest.fixture
def runs_home(tmp_path: Path) -> tuple[Path, list[str]]:
    """A store with 7 finished runs (roc_auc 0.80 .. 0.98 and a few params) and one failed run.

    Returns the home and the ids, oldest first.
    """
    home = tmp_path / "home"
    ids = []
    with Store.from_settings(Settings(home=home)) as store:
        for i in range(7):
            run = store.create_run(
                name="churn" if i % 2 else "fraud",
                dataset_hash="d" * 64,
                target="y",
                task="binary",
                metric="roc_auc",
                params={"cv": 5, "models": ["lightgbm", "[bold]x"], "seed": i},
            )
            store.finish_run(
                run.id,
                status="finished",
                cv_metrics={
                    "roc_auc": 0.80 + 0.03 * i,
                    "roc_auc_std": 0.01,
                    "log_loss": 1.0 - i / 10,
                },
                test_metrics={"roc_auc": 0.95 - 0.01 * i},
                best_model="lightgbm",
            )
            ids.append(run.id)
        failed = store.create_run(
            name="churn", dataset_hash=None, target="y", task="binary", metric="roc_auc", params={}
        )
        store.finish_run(failed.id, status="failed", error="boom")
        ids.append(failed.id)
    return home, ids


def _listed(output: str) -> list[str]:
    """The 12-character run ids of a ``runs list`` table, in order."""
    return re.findall(r"^│ ([0-9a-f]{12}) ", output, flags=re.M)


def test_runs_list_pages_by_keyset_and_counts_all_runs(cli, runs_home) -> None:
    home, ids = runs_home
    newest_first = [i[:12] for i in reversed(ids)]
    first = cli("runs", "list", "--home", home, "--limit", "3")
    assert first.code == 0, first.err
    assert _listed(first.out) == newest_first[:3]
    assert "3 of 8 runs." in first.out
    after = re.search(r"next page: --after ([0-9a-f]{32})", first.out).group(1)
    assert after == ids[-3]
    second = cli("runs", "list", "--home", home, "--limit", "3", "--after", after)
    assert _listed(second.out) == newest_first[3:6]
    third = cli("runs", "list", "--home", home, "--limit", "3", "--after", ids[2][:8])
    assert _listed(third.out) == newest_first[6:]
    assert "next page" not in third.out  # the last page says so by printing no cursor
    past = cli("runs", "list", "--home", home, "--after", ids[0])
    assert past.code == 0 and f"No more runs after {ids[0]}." in past.out


def test_runs_list_filters_and_sorts_by_a_metric(cli, runs_home) -> None:
    home, ids = runs_home
    good = cli(
        "runs", "list", "--home", home, "--where", "roc_auc>=0.9", "--sort-metric", "roc_auc"
    )
    assert good.code == 0, good.err
    # cv roc_auc: 0.80, 0.83, 0.86, 0.89, 0.92, 0.95, 0.98 -> the last three, best first
    assert _listed(good.out) == [ids[6][:12], ids[5][:12], ids[4][:12]]
    assert "3 of 3 runs that match the filters." in good.out
    assert "cv roc_auc" in good.out
    page = cli(
        "runs", "list", "--home", home, "--sort-metric", "roc_auc", "--ascending", "--limit", "2"
    )
    assert _listed(page.out) == [ids[0][:12], ids[1][:12]]
    assert "runs without cv roc_auc are left out" in page.out
    rest = cli(
        "runs", "list", "--home", home, "--sort-metric", "roc_auc", "--ascending",
        "--after", ids[1], "--limit", "2",
    )  # fmt: skip
    assert _listed(rest.out) == [ids[2][:12], ids[3][:12]]
    test_scope = cli(
        "runs", "list", "--home", home, "--where", "roc_auc < 0.915", "--scope", "test", "--json"
    )
    # test roc_auc: 0.95 - 0.01 i < 0.915 for i = 4, 5, 6 (newest first)
    assert [r["id"] for r in json.loads(test_scope.out)] == [ids[6], ids[5], ids[4]]
    equal = cli("runs", "list", "--home", home, "--where", "roc_auc==0.8", "--name", "fraud")
    assert _listed(equal.out) == [ids[0][:12]]
    none = cli("runs", "list", "--home", home, "--where", "roc_auc>2", "--status", "finished")
    assert none.code == 0 and "No runs match (0 runs with these filters)." in none.out


@pytest.mark.parametrize("expression", ["roc_auc", "roc_auc~0.9", "roc_auc>high", ">0.9", "a>nan"])
def test_runs_list_refuses_a_bad_where_expression(cli, runs_home, expression: str) -> None:
    home, _ = runs_home
    result = cli("runs", "list", "--home", home, "--where", expression)
    assert result.code == 2
    message = result.err.strip()
    assert len(message.splitlines()) == 1
    assert "--where must be NAME OP VALUE with OP one of > >= < <= = !=" in message
    assert repr(expression) in message


def test_runs_list_refuses_a_bad_scope_or_cursor(cli, runs_home) -> None:
    home, ids = runs_home
    scope = cli("runs", "list", "--home", home, "--scope", "train")
    assert scope.code == 2 and "'metric_scope' must be one of cv, test" in scope.err
    cursor = cli("runs", "list", "--home", home, "--sort-metric", "roc_auc", "--after", ids[-1])
    assert cursor.code == 2 and "has no cv metric 'roc_auc'" in cursor.err
    unknown = cli("runs", "list", "--home", home, "--after", "0123456789abcdef")
    assert unknown.code == 2 and "No run with id or id prefix" in unknown.err


def test_runs_compare_shows_runs_side_by_side(cli, runs_home) -> None:
    home, ids = runs_home
    result = cli("runs", "compare", ids[6][:8], ids[0], ids[3][:10], "--home", home)
    assert result.code == 0, result.err
    header = next(line for line in result.out.splitlines() if ids[6][:12] in line)
    assert header.index(ids[6][:12]) < header.index(ids[0][:12]) < header.index(ids[3][:12])
    cells = {
        line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
        for line in result.out.splitlines()
        if line.startswith("│")
    }
    assert cells["param seed"] == ["6", "0", "3"]
    assert cells["param models"] == ["['lightgbm', '[bold]x']"] * 3  # not read as markup
    assert cells["cv roc_auc"] == ["0.9800", "0.8000", "0.8900"]
    assert cells["test roc_auc"] == ["0.8900", "0.9500", "0.9200"]
    assert "cv roc_auc_std" not in cells
    as_json = json.loads(cli("runs", "compare", ids[1], ids[2], "--home", home, "--json").out)
    assert [r["id"] for r in as_json] == [ids[1], ids[2]]


def test_runs_compare_marks_the_best_value(runs_home) -> None:
    from modelloop.store import Store as _Store

    home, ids = runs_home
    with _Store.from_settings(Settings(home=home)) as store:
        records = store.get_runs([ids[0], ids[6]])
    from modelloop.cli.runs import compare_rows

    rows = {row[0]: row[1:] for row in compare_rows(records)}
    assert rows["cv roc_auc"] == [pytest.approx(0.80), "[bold]0.9800[/]"]
    assert rows["cv log_loss"] == [pytest.approx(1.0), "[bold]0.4000[/]"]  # lower is better


@pytest.mark.parametrize("count", [1, 7])
def test_runs_compare_takes_two_to_six_runs(cli, runs_home, count: int) -> None:
    home, ids = runs_home
    picked = (ids * 2)[:count] if count == 1 else [f"{i:032x}" for i in range(count)]
    result = cli("runs", "compare", *picked, "--home", home)
    assert result.code == 2
    assert f"runs compare takes 2 to 6 distinct run ids. Got {count}" in result.err


def test_runs_compare_names_an_unknown_run(cli, runs_home) -> None:
    home, ids = runs_home
    result = cli("runs", "compare", ids[0], "fedcba9876543210", "--home", home)
    assert result.code == 2 and "No run with id or id prefix 'fedcba9876543210'" in result.err
