"""Attribution drift: has what the model relies on changed, even where inputs look stable?

Each input column's share of the model's attention is its mean absolute contribution over
a window of rows, divided by the sum over columns (see :mod:`modelloop.explain`). The
reference window is the model's training rows, the current one recent traffic. The shift
is the total variation distance between the two share vectors, half the sum of the
absolute differences: 0 when the model leans on its columns in the same proportions, 1
when it relies on entirely different ones. Its p-value comes from a permutation test
(rows shuffled between the windows), so a small window's noise is not taken for a shift.

A model's reasons can move while every input column passes its own drift test: a shift
too small to flag on its own in the one column the model leans on most, or a change in
how columns co-occur that no per-column test sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["AttributionDrift", "ColumnAttribution", "attribution_drift"]


@dataclass(frozen=True)
class ColumnAttribution:
    """One input column: mean |contribution| and its share, in each window."""

    name: str
    reference: float
    current: float
    reference_share: float
    current_share: float

    @property
    def change(self) -> float:
        return self.current_share - self.reference_share


@dataclass(frozen=True)
class AttributionDrift:
    """The verdict on the model's reasons (see the module docstring).

    ``drifted`` is ``None`` when a window has fewer than ``min_rows`` explained rows.
    """

    columns: tuple[ColumnAttribution, ...]
    distance: float
    p_value: float | None
    threshold: float
    alpha: float
    drifted: bool | None
    verdict: str
    n_reference: int
    n_current: int
    output: str = ""
    method: str = ""

    @property
    def moved(self) -> list[ColumnAttribution]:
        """The columns by how much their share moved, largest first."""
        return sorted(self.columns, key=lambda c: -abs(c.change))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["columns"] = [{**asdict(c), "change": c.change} for c in self.columns]
        return d


def _shares(abs_values: np.ndarray) -> np.ndarray:
    means = abs_values.mean(axis=0)
    total = means.sum()
    return means / total if total > 0 else np.full(len(means), 1.0 / max(len(means), 1))


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    return 0.5 * float(np.abs(_shares(a) - _shares(b)).sum())


def attribution_drift(
    reference: np.ndarray,
    current: np.ndarray,
    columns: Sequence[str],
    *,
    threshold: float = 0.15,
    alpha: float = 0.05,
    min_rows: int = 30,
    permutations: int = 200,
    seed: int = 0,
    output: str = "",
    method: str = "",
) -> AttributionDrift:
    """Compare per-row contributions ``(rows, columns)`` of a reference and a current window.

    The model's reasons drifted when the total variation distance between the windows'
    shares of mean |contribution| is at least ``threshold`` and its permutation p-value
    (``permutations`` shuffles) at most ``alpha``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ref = rng.normal(size=(300, 3)) * [3.0, 1.0, 1.0]   # leans on the first column
    >>> cur = rng.normal(size=(300, 3)) * [1.0, 1.0, 3.0]   # now on the third
    >>> d = attribution_drift(ref, cur, ["a", "b", "c"])
    >>> d.drifted, round(d.distance, 1), sorted(c.name for c in d.moved[:2])
    (True, 0.4, ['a', 'c'])
    >>> attribution_drift(ref, ref[::-1], ["a", "b", "c"]).drifted
    False
    """
    ref = np.abs(np.asarray(reference, dtype=float))
    cur = np.abs(np.asarray(current, dtype=float))
    n_ref, n_cur = len(ref), len(cur)
    ref_means = ref.mean(axis=0) if n_ref else np.zeros(len(columns))
    cur_means = cur.mean(axis=0) if n_cur else np.zeros(len(columns))
    ref_shares = _shares(ref) if n_ref else np.zeros(len(columns))
    cur_shares = _shares(cur) if n_cur else np.zeros(len(columns))
    per_column = tuple(
        ColumnAttribution(str(c), float(rm), float(cm), float(rs), float(cs))
        for c, rm, cm, rs, cs in zip(
            columns, ref_means, cur_means, ref_shares, cur_shares, strict=True
        )
    )

    def verdict_of(
        distance: float, p_value: float | None, drifted: bool | None, verdict: str
    ) -> AttributionDrift:
        return AttributionDrift(
            per_column, distance, p_value, threshold=threshold, alpha=alpha, drifted=drifted,
            verdict=verdict, n_reference=n_ref, n_current=n_cur, output=output, method=method,
        )  # fmt: skip

    if min(n_ref, n_cur) < min_rows:
        return verdict_of(
            float("nan"), None, None,
            f"not enough data (fewer than {min_rows} explained rows in a window)",
        )  # fmt: skip
    distance = _distance(ref, cur)
    pooled = np.vstack([ref, cur])
    rng = np.random.default_rng(seed)
    exceed = 0
    for _ in range(permutations):
        order = rng.permutation(len(pooled))
        if _distance(pooled[order[:n_ref]], pooled[order[n_ref:]]) >= distance - 1e-12:
            exceed += 1
    p_value = (exceed + 1) / (permutations + 1)
    drifted = bool(distance >= threshold and p_value <= alpha)
    top = [c for c in sorted(per_column, key=lambda c: -abs(c.change))[:3]]
    moves = ", ".join(f"{c.name} {c.reference_share:.0%} -> {c.current_share:.0%}" for c in top)
    verdict = (
        f"{'shifted' if drifted else 'stable'}: shares moved by {distance:.3f} "
        f"(threshold {threshold}, p={p_value:.3g}); {moves}"
    )
    return verdict_of(distance, p_value, drifted, verdict)
