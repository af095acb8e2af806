"""Custom metrics: made from a function, imported only with trust, scored like built-ins."""

from __future__ import annotations

import pickle
import sys
import uuid

import numpy as np
import pytest

from modelloop.evaluation import (
    UndefinedMetricError,
    get_metric,
    import_metric,
    install_metric,
    known_metric,
    make_metric,
    metric_payload,
    register_metric,
    resolve_metric,
    score,
    score_all,
    sign,
)
from modelloop.exceptions import ConfigurationError, InvalidInputError, UntrustedCodeError


def _hits(y_true, y_pred, sample_weight=None):
    return float(np.average(np.asarray(y_true) == np.asarray(y_pred), weights=sample_weight))


@pytest.fixture
def module(tmp_path, monkeypatch):
    """A fresh user module in the working folder: ``module(source) -> its name``."""
    monkeypatch.chdir(tmp_path)
    names: list[str] = []

    def write(source: str) -> str:
        name = f"user_metrics_{uuid.uuid4().hex[:8]}"
        (tmp_path / f"{name}.py").write_text(source)
        names.append(name)
        return name

    yield write
    for name in names:
        sys.modules.pop(name, None)


def test_score_weights_every_builtin_metric_like_scikit_learn() -> None:
    y, pred, w = [0, 1, 1, 0], [0, 1, 0, 1], [1.0, 1.0, 2.0, 0.0]
    assert score("accuracy", y, y_pred=pred, sample_weight=w) == pytest.approx(0.5)
    assert score("rmse", [1.0, 2.0], y_pred=[1.0, 4.0], sample_weight=[0.0, 1.0]) == 2.0
    proba = [0.1, 0.9, 0.4, 0.6]
    auc = score("roc_auc", y, y_proba=proba, classes=[0, 1], sample_weight=w)
    assert auc == 1.0  # the one mis-ranked negative (row 4) has weight 0


def test_score_refuses_weights_of_another_length_or_negative() -> None:
    with pytest.raises(InvalidInputError, match=r"one sample weight per row\. Got 1 weights"):
        score("accuracy", [0, 1], y_pred=[0, 1], sample_weight=[1.0])
    with pytest.raises(InvalidInputError, match="finite sample weights >= 0"):
        score("accuracy", [0, 1], y_pred=[0, 1], sample_weight=[1.0, -1.0])


def test_custom_metric_is_scored_by_name_with_weights_and_in_score_all() -> None:
    name = resolve_metric(_hits, greater_is_better=True)
    assert name == "tests.evaluation.test_custom:_hits" or name.endswith(":_hits")
    assert score(name, [0, 1, 1], y_pred=[0, 1, 0], sample_weight=[1, 1, 2]) == 0.5
    assert get_metric(name).greater_is_better and get_metric(name).custom
    out = score_all("binary", [0, 1, 1], y_pred=[0, 1, 0], extra=[name])
    assert out[name] == pytest.approx(2 / 3) and out["accuracy"] == pytest.approx(2 / 3)


def test_custom_metric_gets_the_positive_class_probability_when_it_needs_proba() -> None:
    seen = {}

    def mean_p(y_true, p):
        seen["p"] = p
        return float(np.mean(p))

    register_metric(make_metric(mean_p, greater_is_better=True, needs_proba=True, name="mp"))
    proba = np.array([[0.8, 0.2], [0.3, 0.7]])
    assert score("mp", [0, 1], y_proba=proba, classes=[0, 1]) == pytest.approx(0.45)
    assert seen["p"].tolist() == [0.2, 0.7]


def test_custom_metric_that_returns_no_number_is_a_clear_error() -> None:
    register_metric(make_metric(lambda y, p: "high", greater_is_better=True, name="text"))
    with pytest.raises(InvalidInputError, match=r"Metric 'text' must return a number. Got 'high'"):
        score("text", [0, 1], y_pred=[0, 1])
    register_metric(make_metric(lambda y, p: float("nan"), greater_is_better=True, name="nan"))
    with pytest.raises(UndefinedMetricError, match="returned NaN"):
        score("nan", [0, 1], y_pred=[0, 1])


def test_custom_metric_without_sample_weight_is_refused_for_weighted_rows() -> None:
    register_metric(make_metric(lambda y, p: 1.0, greater_is_better=True, name="plain"))
    assert score("plain", [0, 1], y_pred=[0, 1]) == 1.0
    with pytest.raises(ConfigurationError, match="must take a sample_weight= argument"):
        score("plain", [0, 1], y_pred=[0, 1], sample_weight=[1.0, 2.0])


def test_custom_metric_needs_a_direction_and_cannot_take_a_builtin_name() -> None:
    with pytest.raises(ConfigurationError, match="greater_is_better=True or False"):
        resolve_metric(_hits)
    with pytest.raises(ConfigurationError, match="'rmse': that is a built-in metric"):
        make_metric(_hits, greater_is_better=False, name="rmse")


def test_import_metric_needs_trust_and_imports_nothing_without_it(module) -> None:
    name = module("import sys\nsys.imported_user_metric = True\ndef f(y, p):\n    return 1.0\n")
    with pytest.raises(UntrustedCodeError, match=f"Metric '{name}:f' is Python code.*--trust"):
        import_metric(f"{name}:f", trust=False, greater_is_better=True)
    assert name not in sys.modules and not hasattr(sys, "imported_user_metric")


def test_import_metric_reads_the_functions_attributes_and_names_it_by_reference(module) -> None:
    name = module(
        "def cost(y_true, y_pred):\n    return 3.0\n"
        "cost.greater_is_better = False\ncost.needs_proba = False\n"
    )
    metric = import_metric(f"{name}:cost", trust=True)
    assert (metric.name, metric.greater_is_better, metric.needs_proba) == (
        f"{name}:cost",
        False,
        False,
    )


def test_import_metric_takes_a_metric_made_with_make_metric(module) -> None:
    name = module(
        "from modelloop.evaluation import make_metric\n"
        "m = make_metric(lambda y, p: 0.5, greater_is_better=False, name='anything')\n"
    )
    metric = import_metric(f"{name}:m", trust=True)
    assert metric.name == f"{name}:m" and not metric.greater_is_better


@pytest.mark.parametrize(
    ("source", "ref", "message"),
    [
        ("x = 1\n", "no_such_module_zz:f", "no module named 'no_such_module_zz'"),
        ("x = 1\n", "{m}:f", "has no attribute 'f'"),
        ("x = 1\n", "{m}:x", "must be a function .* Got int"),
        ("def f(y, p):\n    return 1.0\n", "{m}:f", "say whether larger values are better"),
        ("raise RuntimeError('boom')\n", "{m}:f", "importing module .* failed: RuntimeError"),
        ("x = 1\n", "nocolon", "named module:function"),
    ],
)
def test_import_metric_errors_are_one_clear_line(module, source, ref, message) -> None:
    ref = ref.format(m=module(source))
    with pytest.raises(ConfigurationError, match=message) as info:
        import_metric(ref, trust=True) if ":" in ref else import_metric(ref + ":", trust=True)
    assert "\n" not in str(info.value)


def test_unloaded_reference_is_not_imported_by_a_lookup() -> None:
    with pytest.raises(ConfigurationError, match="has not loaded: pass --trust"):
        get_metric("somewhere:unloaded")


def test_metric_payload_carries_a_script_function_to_another_process() -> None:
    def local_score(y_true, y_pred):  # defined in a function: not importable by reference
        return 0.25

    register_metric(make_metric(local_score, greater_is_better=True, name="moved"))
    payload = metric_payload("moved")
    assert metric_payload("rmse") is None
    copy = pickle.loads(pickle.dumps(payload))
    install_metric(copy)
    assert score("moved", [0, 1], y_pred=[0, 1]) == 0.25


def test_known_metric_ranks_a_stored_metric_without_importing_it(module) -> None:
    name = module("import sys\nsys.imported_known_metric = True\ndef f(y, p):\n    return 1.0\n")
    ref, spec = f"{name}:f", {"greater_is_better": False, "needs_proba": False}
    known_metric(ref, spec)
    assert sign(ref) == -1
    assert name not in sys.modules and not hasattr(sys, "imported_known_metric")
    with pytest.raises(UntrustedCodeError, match="was not imported: pass --trust"):
        score(ref, [0, 1], y_pred=[0, 1])
    known_metric(ref, spec, trust=True)
    assert score(ref, [0, 1], y_pred=[0, 1]) == 1.0
    del sys.imported_known_metric


def test_report_metric_table_is_weighted_and_shows_a_custom_selection_metric() -> None:
    from modelloop.evaluation import metric_intervals

    register_metric(make_metric(_hits, greater_is_better=True, name="hit_rate", tasks=("binary",)))
    y, pred = [0, 1, 1, 0], [0, 1, 0, 1]
    w = [1.0, 1.0, 0.0, 0.0]
    table = metric_intervals("binary", y, y_pred=pred, first="hit_rate", sample_weight=w, n_boot=20)
    values = dict(zip(table["metric"], table["test"], strict=True))
    assert values["accuracy"] == 1.0 and values["hit_rate"] == 1.0  # the wrong rows weigh 0
    known_metric("unloaded_module:f", {"greater_is_better": True, "needs_proba": False})
    table = metric_intervals("binary", y, y_pred=pred, first="unloaded_module:f", n_boot=20)
    assert "unloaded_module:f" not in set(table["metric"]) and "accuracy" in set(table["metric"])
