"""A small messy frame with every role, already typed (the output of conform)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelloop.data import ColumnSchema, Role, Schema

N_ROWS = 160
WORDS = ["great", "bad", "service", "slow", "friendly", "price", "cheap", "clean", "noisy"]


def _messy_frame(n: int = N_ROWS, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    income = rng.normal(50_000, 15_000, n)
    income[rng.random(n) < 0.15] = np.nan
    flag = rng.integers(0, 2, n).astype(float)
    flag[rng.random(n) < 0.1] = np.nan
    color = rng.choice(["red", "green", "blue", "NA"], n).astype(object)
    color[rng.random(n) < 0.1] = np.nan
    city = np.array([f"city{i}" for i in rng.integers(0, 40, n)], dtype=object)
    city[rng.random(n) < 0.05] = np.nan
    seconds = rng.integers(1_500_000_000, 1_700_000_000, n)
    signup = pd.Series(pd.to_datetime(seconds, unit="s"))
    signup[rng.random(n) < 0.1] = pd.NaT
    review = np.array(
        [" ".join(rng.choice(WORDS, rng.integers(1, 6))) for _ in range(n)], dtype=object
    )
    review[rng.random(n) < 0.1] = np.nan
    score = (
        np.nan_to_num(income, nan=50_000) / 10_000
        + 2 * (color == "red")
        + np.nan_to_num(flag) * 1.5
    )
    target = (score + rng.normal(0, 1, n) > np.median(score)).astype(int)
    return pd.DataFrame(
        {
            "customer_id": np.arange(n),
            "income": income,
            "flag": flag,
            "color": color,
            "city": city,
            "signup": signup.astype("datetime64[ns]"),
            "review": review,
            "churn": target,
        }
    )


def _messy_schema(frame: pd.DataFrame) -> Schema:
    return Schema(
        (
            ColumnSchema("customer_id", Role.IDENTIFIER, "int64", n_unique=len(frame)),
            ColumnSchema("income", Role.NUMERIC, "float64", n_missing=1),
            ColumnSchema("flag", Role.BOOLEAN, "float64", n_unique=2, categories=("0", "1")),
            ColumnSchema(
                "color", Role.CATEGORICAL, "object", n_unique=4,
                categories=("NA", "blue", "green", "red"),
            ),
            ColumnSchema("city", Role.CATEGORICAL, "object", n_unique=40),
            ColumnSchema("signup", Role.DATETIME, "datetime64[ns]", n_unique=len(frame)),
            ColumnSchema("review", Role.TEXT, "object", n_unique=len(frame)),
            ColumnSchema("churn", Role.CATEGORICAL, "int64", n_unique=2),
        ),
        target="churn",
    )  # fmt: skip


@pytest.fixture
def messy_frame() -> pd.DataFrame:
    return _messy_frame()


@pytest.fixture
def messy_schema(messy_frame: pd.DataFrame) -> Schema:
    return _messy_schema(messy_frame)
