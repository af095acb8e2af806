"""Progress on long work: what the workflows report, and what the command line draws."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from modelloop.cli import _common
from modelloop.tuning import SearchEvent


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sklearn.linear_model import LogisticRegression

    from modelloop.config import Settings
    from modelloop.data import infer_schema
    from modelloop.features import make_pipeline
    from modelloop.store import Store

    home = tmp_path_factory.mktemp("progress") / "home"
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=40), "y": [0, 1] * 20})
    schema = infer_schema(frame, target="y")
    pipeline = make_pipeline(schema, "linear", LogisticRegression(), task="binary")
    pipeline.fit(frame[["x"]], frame["y"])
    bundle = {"pipeline": pipeline, "schema": schema.to_dict(), "task": "binary",
              "target": "y", "classes": [0, 1]}  # fmt: skip
    with Store.from_settings(Settings(home=home)) as store:
        store.register_model("alpha", bundle, run_id=None, schema=schema.to_dict(),
                             task="binary", metrics={}, aliases=["production"])  # fmt: skip
    return home


def _recorder() -> tuple[list[tuple[str, Any, Any]], Any]:
    calls: list[tuple[str, Any, Any]] = []
    return calls, lambda message, done=None, total=None: calls.append((message, done, total))


def test_predict_file_reports_the_model_loading_and_the_rows_scored(home: Path) -> None:
    from modelloop.config import Settings
    from modelloop.workflows import predict_file

    rows = pd.DataFrame({"x": np.linspace(-2, 2, 250)})
    rows.to_parquet(home.parent / "rows.parquet")
    calls, on_progress = _recorder()
    predict_file(
        "alpha@production",
        home.parent / "rows.parquet",
        home.parent / "out.csv",
        batch_rows=100,
        settings=Settings(home=home),
        on_progress=on_progress,
    )
    assert calls[0] == ("Loading alpha@production", None, None)
    counted = [(done, total) for message, done, total in calls[1:]]
    assert all(m.startswith("Scoring rows.parquet with alpha:1") for m, _, _ in calls[1:])
    # the total comes from the Parquet footer; one report per batch of 100 rows
    assert counted == [(0, 250), (100, 250), (200, 250), (250, 250)]


def test_feedback_and_ingest_report_their_steps(home: Path) -> None:
    from modelloop.config import Settings
    from modelloop.workflows import feedback, ingest

    labels = pd.DataFrame({"request_id": [f"r{i}" for i in range(5)], "label": [0, 1, 0, 1, 0]})
    calls, on_progress = _recorder()
    result = feedback("alpha", labels, settings=Settings(home=home), on_progress=on_progress)
    assert result.n_unknown == 5  # nothing was logged: every id is unknown
    assert calls[0] == ("Loading alpha", None, None)
    assert calls[-1] == ("Attaching labels to alpha's predictions", 5, 5)

    source = home.parent / "customers.csv"
    pd.DataFrame({"id": range(30), "spend": np.arange(30.0)}).to_csv(source, index=False)
    calls, on_progress = _recorder()
    ingest(source, name="customers", settings=Settings(home=home), on_progress=on_progress)
    assert [m for m, _, _ in calls] == [
        "Reading customers.csv",
        "Hashing 30 rows",
        "Writing snapshot customers (30 rows)",
    ]


def _terminal(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120, color_system=None)
    monkeypatch.setattr(_common, "err", console)
    return buffer


def test_work_progress_draws_the_step_and_counts_then_clears(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    buffer = _terminal(monkeypatch)
    with _common.work_progress() as on_progress:
        on_progress("Scoring big.csv with churn:3", 200_000, None)
    shown = buffer.getvalue()
    assert "Scoring big.csv with churn:3" in shown
    assert "200,000" in shown


def test_demo_search_bar_counts_time_not_folds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many candidates of 5 folds each once showed '21/5' and 'Done ... 72/5'."""
    buffer = _terminal(monkeypatch)
    with _common.search_display(enabled=True, budget=60.0) as on_event:
        on_event(SearchEvent("start", total=5))
        for trial, name in enumerate(["lightgbm", "catboost", "logistic"], start=1):
            on_event(SearchEvent("candidate", candidate=name, total=5, stage="portfolio"))
            for fold in range(1, 6):
                on_event(SearchEvent("fold", candidate=name, fold=fold, total=5, score=0.8,
                                     stage="portfolio", trials=trial - 1, best=0.8))  # fmt: skip
    shown = buffer.getvalue()
    assert "trials 2" in shown
    assert "/5" not in shown
