"""Thresholds of the drift tests (hyperparameters of the check, with documented defaults)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from modelloop.exceptions import ConfigurationError

__all__ = ["NOT_ENOUGH_DATA", "DriftConfig"]

NOT_ENOUGH_DATA = "not enough data"
"""The verdict of a test (or of the domain classifier) whose samples are below the minimums."""


@dataclass(frozen=True)
class DriftConfig:
    """How :func:`~modelloop.monitoring.drift_report` decides that a column drifted.

    Parameters
    ----------
    alpha : float
        Significance level of the tests after correction for many columns.
    correction : {'bh', 'holm'}
        Benjamini-Hochberg (false discovery rate, the default) or Holm (family-wise error).
    min_rows : int
        A window with fewer non-missing values than this gets "not enough data".
    small_sample : int
        Up to this many values in the smaller window: KS (numeric) and chi-squared
        (categorical) p-values decide. Above it: the normalized Wasserstein distance and
        the Jensen-Shannon distance must reach their thresholds *and* the test be significant,
        so a huge window does not flag a negligible change.
    wasserstein : float
        Threshold on the Wasserstein distance in units of the reference standard deviation.
    jensen_shannon : float
        Threshold on the Jensen-Shannon distance (base 2).
    psi : float
        PSI at or above this is reported as drift by the second opinion (not the verdict).
    missing_rate : float
        Absolute change of the missing share that counts (when also significant).
    unseen_share : float
        Share of current values in categories never seen in the reference that counts.
    max_rows : int
        Column tests run on a uniform random sample of at most this many rows per window.
    domain_rows : int
        Rows per window for the domain classifier (a balanced sample).
    domain_auc : float
        Cross-validated ROC AUC of the domain classifier at or above which the data drifted
        (also at least 3 standard errors above 0.5).
    domain_min_rows : int
        Fewer rows than this in either window: the domain classifier says "not enough data".
    domain : bool
        Run the domain classifier at all.
    attribution_shift : float
        Total variation distance between the reference's and the current window's shares of
        mean |contribution| per input column at or above which the model's reasons drifted
        (also significant at ``alpha``; see ``attribution_drift``).
    attribution_rows : int
        Rows per window explained for attribution drift (fewer when explaining is slow).
    seed : int
        Seed of the samples and of the domain classifier.

    Examples
    --------
    >>> DriftConfig(alpha=0.01).alpha
    0.01
    """

    alpha: float = 0.05
    correction: Literal["bh", "holm"] = "bh"
    min_rows: int = 30
    small_sample: int = 1000
    wasserstein: float = 0.05
    jensen_shannon: float = 0.05
    psi: float = 0.2
    missing_rate: float = 0.05
    unseen_share: float = 0.01
    max_rows: int = 100_000
    domain_rows: int = 5_000
    domain_auc: float = 0.55
    domain_min_rows: int = 100
    domain: bool = True
    attribution_shift: float = 0.15
    attribution_rows: int = 500
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ConfigurationError(f"alpha must be in (0, 1). Got {self.alpha}.")
        if self.correction not in ("bh", "holm"):
            raise ConfigurationError(f"correction must be 'bh' or 'holm'. Got {self.correction!r}.")
        for name in ("min_rows", "small_sample", "max_rows", "domain_rows", "domain_min_rows"):
            if int(getattr(self, name)) < 2:
                raise ConfigurationError(f"{name} must be >= 2. Got {getattr(self, name)}.")
        if not 0 < self.attribution_shift <= 1:
            raise ConfigurationError(
                f"attribution_shift must be in (0, 1]. Got {self.attribution_shift}."
            )
        if int(self.attribution_rows) < 2:
            raise ConfigurationError(f"attribution_rows must be >= 2. Got {self.attribution_rows}.")
        if not 0.5 <= self.domain_auc <= 1:
            raise ConfigurationError(f"domain_auc must be in [0.5, 1]. Got {self.domain_auc}.")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
