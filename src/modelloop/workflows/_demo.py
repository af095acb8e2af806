"""``demo``: the whole loop on the bundled Titanic data, in about a minute."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from modelloop.config import Settings
from modelloop.store import Store
from modelloop.tuning import SearchEvent
from modelloop.workflows._predict import load_model
from modelloop.workflows._train import TrainResult, train

__all__ = ["DEMO_MODEL", "DemoResult", "demo_data_path", "run_demo"]

DEMO_MODEL = "titanic"
DEMO_TARGET = "Survived"


def demo_data_path() -> Path:
    """Path of the bundled Titanic CSV (see ``modelloop/examples/README.md`` for its source)."""
    return Path(str(resources.files("modelloop") / "examples" / "titanic.csv"))


@dataclass(frozen=True)
class DemoResult:
    """What the demo did: the training result and a few scored rows."""

    train: TrainResult
    data_path: Path
    predictions: pd.DataFrame
    store_url: str


def run_demo(
    *,
    time_budget: float = 60.0,
    settings: Settings | None = None,
    on_event: Callable[[SearchEvent], None] | None = None,
) -> DemoResult:
    """Train on the bundled data, register as ``titanic@production``, score five rows."""
    settings = settings or Settings()
    path = demo_data_path()
    with Store.from_settings(settings) as store:
        result = train(
            path,
            target=DEMO_TARGET,
            name=DEMO_MODEL,
            aliases=("production",),
            time_budget=time_budget,
            settings=settings,
            store=store,
            on_event=on_event,
        )
        model = load_model(f"{DEMO_MODEL}@production", store=store)
        rows = pd.read_csv(path, nrows=5, dtype=str, keep_default_na=False)
        scored = model.predict_frame(rows.drop(columns=[DEMO_TARGET]))
        predictions = pd.concat([rows[["PassengerId", "Name", DEMO_TARGET]], scored], axis=1)
        return DemoResult(result, path, predictions, store.url)
