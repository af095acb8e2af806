"""Sentence embeddings from the packaged MiniLM model, and TextFeatures(method='embedding')."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelloop.exceptions import ConfigurationError
from modelloop.features import TextFeatures, _text_embed, embed_texts, sentence_model_available

needs_model = pytest.mark.skipif(
    not sentence_model_available(), reason="the 'text' extra (packaged MiniLM) is not installed"
)

TEXTS = [
    "a cheap hotel near the beach",
    "an inexpensive hotel by the sea",
    "the stock market fell sharply today",
    "",
]


@needs_model
def test_embed_texts_unit_vectors_that_carry_meaning() -> None:
    v = embed_texts(TEXTS, n_threads=1)
    assert v.shape == (4, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
    assert float(v[0] @ v[1]) > 0.7 > 0.3 > float(v[0] @ v[2])
    # Same as sentence-transformers' all-MiniLM-L6-v2 (first values of its embedding).
    np.testing.assert_allclose(v[0, :4], [0.065655, 0.06729, -0.021629, 0.071401], atol=1e-5)


@needs_model
def test_embed_texts_order_and_batching_do_not_change_vectors() -> None:
    texts = [f"review number {i} " + "good " * (i % 7) for i in range(70)]
    whole = embed_texts(texts)
    np.testing.assert_allclose(embed_texts(texts[::-1])[::-1], whole, atol=1e-5)
    np.testing.assert_allclose(embed_texts(texts[:1]), whole[:1], atol=1e-5)


@needs_model
def test_text_features_embedding_dense_block_with_lengths() -> None:
    X = pd.DataFrame({"review": TEXTS * 3})
    features = TextFeatures(n_components=3, method="embedding").fit(X)
    out = features.transform(X)
    assert out.shape == (12, 5)  # 3 PCA components + length + words
    assert list(features.get_feature_names_out()) == [
        "review_emb0", "review_emb1", "review_emb2", "review_length", "review_words",
    ]  # fmt: skip
    full = TextFeatures(method="embedding").fit_transform(X)
    assert full.shape == (12, 384)


@needs_model
def test_text_features_embedding_in_pipeline_saves_and_loads(tmp_path) -> None:
    from sklearn.linear_model import LogisticRegression

    from modelloop.data import ColumnSchema, Role, Schema
    from modelloop.features import make_pipeline
    from modelloop.store._artifacts import load_model_bytes, write_model_file

    rng = np.random.default_rng(0)
    good = ["great food", "lovely staff", "excellent service", "wonderful meal"]
    bad = ["awful food", "rude staff", "terrible service", "disgusting meal"]
    y = rng.integers(0, 2, 80)
    X = pd.DataFrame({"review": [rng.choice(good if t else bad) for t in y]})
    schema = Schema((ColumnSchema("review", Role.TEXT, "object", n_unique=8),))
    pipe = make_pipeline(schema, "linear", LogisticRegression(), text_features="embedding")
    pipe.fit(X, y)
    assert pipe.named_steps["preprocess"].transformers_[0][1].method == "embedding"
    assert pipe.score(X, y) == 1.0
    path, _, _ = write_model_file(pipe, tmp_path, what="m")
    loaded = load_model_bytes(path.read_bytes(), what="m", path=path)
    np.testing.assert_array_equal(loaded.predict_proba(X), pipe.predict_proba(X))


def test_text_features_unknown_method_is_refused() -> None:
    with pytest.raises(ValueError, match="'method' parameter of TextFeatures must be one of"):
        TextFeatures(method="bert").fit(pd.DataFrame({"t": ["a b", "c"]}))


def test_embed_texts_without_packaged_model_says_how_to_install(monkeypatch) -> None:
    monkeypatch.setattr(_text_embed, "_model_zip", lambda: None)
    assert not sentence_model_available()
    with pytest.raises(ConfigurationError, match=r"pip install 'modelloop\[text\]'.*tfidf"):
        _text_embed._load.__wrapped__()


def test_build_pipeline_text_features_hyperparameter_reaches_text_columns() -> None:
    from modelloop.data import ColumnSchema, Role, Schema
    from modelloop.tuning._worker import build_pipeline

    schema = Schema(
        (
            ColumnSchema("note", Role.TEXT, "object", n_unique=50),
            ColumnSchema("y", Role.NUMERIC, "float64"),
        ),
        target="y",
    )
    pipe = build_pipeline(
        schema, "binary", "lightgbm", {"text_features": "embedding", "num_leaves": 7}, seed=0,
        n_jobs=1,
    )  # fmt: skip
    text = pipe.named_steps["preprocess"].transformers[0][1]
    assert text.method == "embedding" and pipe[-1].num_leaves == 7


def _text_table(n: int = 60, *, usable: bool = True) -> tuple[pd.DataFrame, np.ndarray, object]:
    from modelloop.data import ColumnSchema, Role, Schema

    rng = np.random.default_rng(0)
    good = rng.random(n) < 0.5
    if usable:
        note = np.where(good, "a clean quiet room, friendly staff", "dirty noisy room, rude staff")
    else:
        note = np.array(["", " ", "?", "the", None, "a b"] * (n // 6), dtype=object)
    X = pd.DataFrame({"note": note, "x": rng.normal(size=n)})
    y = np.where(good, "yes", "no")
    schema = Schema(
        (
            ColumnSchema("note", Role.TEXT, "object", n_unique=2),
            ColumnSchema("x", Role.NUMERIC, "float64"),
            ColumnSchema("y", Role.CATEGORICAL, "object", categories=("no", "yes")),
        ),
        target="y",
    )
    return X, y, schema


@pytest.mark.parametrize("method", ["tfidf", "embedding"])
def test_text_features_without_usable_text_raises_for_both_methods(method) -> None:
    from modelloop.exceptions import InvalidInputError

    X = pd.DataFrame({"note": ["", "   ", None, "!!", "the of and"]})
    with pytest.raises(InvalidInputError, match="Text column 'note' has no usable text"):
        TextFeatures(method=method, n_components=4).fit(X)


def test_search_refuses_text_column_without_usable_text_before_any_trial() -> None:
    from modelloop.exceptions import InvalidInputError
    from modelloop.tuning import search

    X, y, schema = _text_table(usable=False)
    events: list = []
    with pytest.raises(InvalidInputError, match=r"Text column 'note' has no usable text.*--drop"):
        search(
            X, y, schema=schema, task="binary", metric="roc_auc",
            candidates=["logistic_regression"], max_trials=2, on_event=events.append,
        )  # fmt: skip
    assert events == []  # refused before the search started


def test_optuna_space_tunes_text_features_only_for_text_models() -> None:
    import optuna

    from modelloop.tuning._optuna import distribution_params as _distribution_params
    from modelloop.tuning._optuna import suggest as _suggest

    trial = optuna.trial.FixedTrial(
        {"logistic_regression.C": 1.0, "logistic_regression.text_features": "embedding"}
    )
    assert _suggest(trial, "logistic_regression", frozenset({"logistic_regression"})) == {
        "C": 1.0,
        "text_features": "embedding",
    }
    assert _suggest(trial, "logistic_regression", frozenset()) == {"C": 1.0}
    # the portfolio's configs seed the study: no text_features means TF-IDF
    values, dists = _distribution_params("logistic_regression", {"C": 1.0}, ["x"], text=True)
    assert values == {"logistic_regression.C": 1.0, "logistic_regression.text_features": "tfidf"}
    assert dists["logistic_regression.text_features"].choices == ("tfidf", "embedding")
    values, _ = _distribution_params(
        "logistic_regression", {"C": 2.0, "text_features": "embedding"}, ["x"], text=True
    )
    assert values["logistic_regression.text_features"] == "embedding"
    values, _ = _distribution_params("logistic_regression", {"C": 1.0}, ["x"])
    assert "logistic_regression.text_features" not in values


@needs_model
@pytest.mark.slow
def test_search_optuna_stage_chooses_text_features() -> None:
    from modelloop.tuning import search

    X, y, schema = _text_table()
    result = search(
        X, y, schema=schema, task="binary", metric="roc_auc", cv=2,
        candidates=["logistic_regression"], max_trials=7, seed=0, ensemble=False, refit=False,
    )  # fmt: skip
    optuna_trials = [c for c in result.candidates if c.stage == "optuna"]
    assert optuna_trials
    assert all(c.params.get("text_features") in ("tfidf", "embedding") for c in optuna_trials)
    portfolio = [
        c.params.get("text_features", "tfidf") for c in result.candidates if c.stage == "portfolio"
    ]
    assert sorted(portfolio) == ["embedding", "tfidf"]
