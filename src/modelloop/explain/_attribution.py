"""Additive attributions and how they pass through a model's output function.

An :class:`Attribution` holds, for ``n`` rows, a base value and one contribution per input
column and output, with ``base + contributions.sum() == output`` row by row. Its ``space``
says what the outputs are:

- ``"margin"``: a classifier's raw scores, whose softmax is its probabilities (one column,
  the log-odds of the second class, for a binary model);
- ``"probability"``: one column per class, each row summing to 1;
- ``"value"``: a regressor's prediction.

A model's output is often a smooth function ``g`` of what its explainer attributes
(probabilities are the sigmoid or softmax of TreeSHAP's log-odds; a log-target model
predicts ``expm1`` of its log-scale value). Contributions are carried through ``g`` by the
chain rule along the straight path from the base to the row's value: each column's
contribution ``phi`` becomes ``J phi``, where ``J`` is the Jacobian of ``g`` averaged over
that path. For a function of one number this is the *rescale rule* (``J`` =
``(g(out) - g(base)) / (out - base)``), the rule shap applies per reference row for
``model_output="probability"``; for several outputs (softmax) the path average is computed by
16-point Gauss-Legendre quadrature. By the fundamental theorem of calculus ``J`` times the
total change is exactly ``g(out) - g(base)``, so additivity survives; the few ulps of
quadrature error are given back to the columns in proportion to their size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Attribution", "expm1_clipped", "log_odds", "tempered", "to_probability"]

_EPS = 1e-15  # the clip of models.apply_temperature, also used for log-odds
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(16)
_NODES = (_NODES + 1.0) / 2.0  # on [0, 1]
_WEIGHTS = _WEIGHTS / 2.0


@dataclass
class Attribution:
    """Contributions ``values`` (n, columns, outputs) and ``base`` (n, outputs) in ``space``.

    ``exact`` is whether the values are exact Shapley values of the output (TreeSHAP and
    the linear form in a model's own space), not sampled or carried through a link.
    ``methods`` describes how they were computed, one entry per model explained.
    """

    values: np.ndarray
    base: np.ndarray
    space: str
    methods: list[str] = field(default_factory=list)
    exact: bool = True
    kinds: set[str] = field(default_factory=set)

    @property
    def output(self) -> np.ndarray:
        """``base + values.sum(columns)``: what is explained, per row and output."""
        return self.base + self.values.sum(axis=1)

    def scaled(self, factor: float, note: str | None = None) -> Attribution:
        methods = self.methods if note is None else [f"{m}, {note}" for m in self.methods]
        return Attribution(
            self.values * factor, self.base * factor, self.space, methods, self.exact,
            self.kinds,
        )  # fmt: skip


def _rescaled(
    values: np.ndarray,
    base: np.ndarray,
    g: Callable[[np.ndarray], np.ndarray],
    dg: Callable[[np.ndarray], np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """``values`` (n, m), ``base`` (n,) of one output, through the scalar function ``g``."""
    out = base + values.sum(axis=1)
    delta = out - base
    small = np.abs(delta) <= 1e-12 * np.maximum(1.0, np.abs(base))
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(small, dg(base), (g(out) - g(base)) / np.where(small, 1.0, delta))
    return values * factor[:, None], g(base)


def _chained(
    values: np.ndarray,
    base: np.ndarray,
    g: Callable[[np.ndarray], np.ndarray],
    jvp: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """``values`` (n, m, k), ``base`` (n, k) through the vector function ``g`` (chain rule
    with the Jacobian averaged along the path from base to output; see the module doc)."""
    delta = values.sum(axis=1)
    new = np.zeros_like(values, dtype=float)
    for t, w in zip(_NODES, _WEIGHTS, strict=True):
        new += w * jvp(base + t * delta, values)
    target = g(base + delta) - g(base)
    residual = target - new.sum(axis=1)  # quadrature error: ulps, or more on sharp paths
    size = np.abs(new)
    total = size.sum(axis=1, keepdims=True)
    m = values.shape[1]
    share = np.where(total > 0, size / np.where(total > 0, total, 1.0), 1.0 / max(m, 1))
    new += share * residual[:, None, :]
    return new, g(base)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _softmax_jvp(z: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``J_softmax(z) v`` for rows ``z`` (n, k) and directions ``v`` (n, m, k)."""
    s = _softmax(z)[:, None, :]
    return s * (v - (s * v).sum(axis=-1, keepdims=True))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def to_probability(a: Attribution) -> Attribution:
    """Margins (log-odds) to class probabilities; probabilities unchanged."""
    if a.space == "probability":
        return a
    if a.space != "margin":
        raise ValueError(f"Only a classifier's margins become probabilities. Got {a.space!r}.")
    if a.values.shape[2] == 1:  # binary: the log-odds of the second class
        v1, b1 = _rescaled(
            a.values[:, :, 0], a.base[:, 0], _sigmoid, lambda x: _sigmoid(x) * (1 - _sigmoid(x))
        )
        values = np.stack([-v1, v1], axis=2)
        base = np.stack([1.0 - b1, b1], axis=1)
        note = "log-odds to probability by the rescale rule"
    else:
        values, base = _chained(a.values, a.base, _softmax, _softmax_jvp)
        note = "margins to probabilities by the chain rule through the softmax"
    return Attribution(values, base, "probability", _noted(a.methods, note), False, a.kinds)


def _noted(methods: list[str], note: str) -> list[str]:
    return [f"{m}, {note}" for m in methods]


def log_odds(a: Attribution) -> Attribution:
    """A binary classifier's attribution as the log-odds of its second class."""
    if a.space == "margin":
        if a.values.shape[2] != 1:
            raise ValueError("Log-odds are defined for two classes.")
        return a
    if a.space != "probability" or a.values.shape[2] != 2:
        raise ValueError("Log-odds are defined for the probabilities of two classes.")

    def logit(p: np.ndarray) -> np.ndarray:
        p = np.clip(p, _EPS, 1 - _EPS)
        return np.log(p) - np.log1p(-p)

    def dlogit(p: np.ndarray) -> np.ndarray:
        p = np.clip(p, _EPS, 1 - _EPS)
        return 1.0 / (p * (1 - p))

    v1, b1 = _rescaled(a.values[:, :, 1], a.base[:, 1], logit, dlogit)
    methods = _noted(a.methods, "probability to log-odds by the rescale rule")
    return Attribution(v1[:, :, None], b1[:, None], "margin", methods, False, a.kinds)


def tempered(a: Attribution, temperature: float) -> Attribution:
    """Through ``models.TemperatureScaled``: ``softmax(log(p) / T)``.

    Margins are divided by ``T`` (exact: the scaled probabilities are the softmax of
    ``margin / T``); probabilities go through the chain rule (clipped at 1e-15 as the model
    clips them).
    """
    t = float(temperature)
    if t == 1.0:
        return a
    if a.space == "margin":
        return a.scaled(1.0 / t, f"temperature {t:.3g} (log-odds divided by it)")
    if a.space != "probability":
        raise ValueError(f"A temperature applies to class probabilities. Got {a.space!r}.")

    def g(p: np.ndarray) -> np.ndarray:
        return _softmax(np.log(np.clip(p, _EPS, 1.0)) / t)

    def jvp(p: np.ndarray, v: np.ndarray) -> np.ndarray:
        clipped = np.clip(p, _EPS, 1.0)
        inside = (p > _EPS)[:, None, :]
        u = np.where(inside, v / (t * clipped[:, None, :]), 0.0)
        s = g(p)[:, None, :]
        return s * (u - (s * u).sum(axis=-1, keepdims=True))

    values, base = _chained(a.values, a.base, g, jvp)
    methods = _noted(a.methods, f"temperature {t:.3g} by the chain rule")
    return Attribution(values, base, "probability", methods, False, a.kinds)


def expm1_clipped(a: Attribution, low: float, high: float) -> Attribution:
    """Through ``models.LogTargetRegressor``: ``sign(z) * expm1(|z|)`` of ``z`` clipped to
    ``[low, high]``."""

    def g(z: np.ndarray) -> np.ndarray:
        z = np.clip(z, low, high)
        return np.sign(z) * np.expm1(np.abs(z))

    def dg(z: np.ndarray) -> np.ndarray:
        return np.where((z >= low) & (z <= high), np.exp(np.abs(z)), 0.0)

    v, b = _rescaled(a.values[:, :, 0], a.base[:, 0], g, dg)
    methods = _noted(a.methods, "log1p target to value by the rescale rule (expm1)")
    return Attribution(v[:, :, None], b[:, None], "value", methods, False, a.kinds)
