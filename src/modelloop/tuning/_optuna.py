"""The model-based stage: Optuna's TPE over the search spaces of the best families.

After the portfolio, the two families that did best (with a search space) are tuned
together: the study's ``model`` parameter chooses the family and the family's parameters
are named ``family.param`` (families share names). Every portfolio trial of those families
whose configuration lies in the search space is added to the study first
(``study.add_trial``), so TPE starts from what the portfolio learned. A family whose best
portfolio trial used the log target keeps it in all its trials. The stage runs in the one
ask/tell loop (``_loop.run_study``), prunes a trial after a fold when its mean is far behind
the best, and ends after ``_PATIENCE`` trials without a new best (more rarely pays off; the
time is better left to the user), or when the time or trial budget is spent.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from modelloop.features import TEXT_METHODS
from modelloop.models import BALANCED, search_space
from modelloop.tuning._loop import StudySource, run_study
from modelloop.tuning._records import TARGET_TRANSFORM
from modelloop.tuning._runner import TrialRunner

__all__ = ["distribution_params", "run_optuna", "suggest"]

FAMILIES = 2
PATIENCE = 12  # trials without a new best before the stage ends


def run_optuna(
    runner: TrialRunner,
    models: Sequence[str],
    *,
    cap: float | None,
    max_trials: int | None,
    journal: str | None = None,
) -> None:
    """Tune the best families among ``models`` (see the module docstring)."""
    import optuna

    ranked = [c for c in runner.ranked() if c.status == "ok"]
    families: list[str] = []
    for c in ranked:
        if c.family in models and search_space(c.family) and c.family not in families:
            families.append(c.family)
    families = families[:FAMILIES]
    if not families or (runner.clock.deadline is None and max_trials is None):
        return  # nothing to tune, or no budget of any kind: the portfolio is the search
    fixed: dict[str, dict[str, Any]] = {}
    for family in families:  # raw or log target: as the family's best trial had it
        top = next(c for c in ranked if c.family == family)
        if TARGET_TRANSFORM in top.params:
            fixed[family] = {TARGET_TRANSFORM: top.params[TARGET_TRANSFORM]}
    text_models = runner.policy.text_models
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize" if runner.problem.greater else "minimize",
        sampler=optuna.samplers.TPESampler(
            seed=runner.problem.seed, n_startup_trials=5, multivariate=True
        ),
        storage=_journal(journal),
        study_name=None if journal is None else Path(journal).stem,
        load_if_exists=journal is not None,
    )
    for c in ranked:  # what the portfolio learned seeds the model
        same_target = c.params.get(TARGET_TRANSFORM) == fixed.get(c.family, {}).get(
            TARGET_TRANSFORM
        )
        if c.family not in families or not same_target:
            continue
        own = {k: v for k, v in c.params.items() if k not in BALANCED.get(c.family, {})}
        seeded = distribution_params(c.family, own, families, text=c.family in text_models)
        if seeded is not None:
            values, dists = seeded
            study.add_trial(
                optuna.trial.create_trial(params=values, distributions=dists, value=c.cv_mean)
            )

    def decode(trial: Any) -> tuple[str, dict[str, Any]]:
        model = trial.suggest_categorical("model", families) if len(families) > 1 else families[0]
        params = suggest(trial, model, text_models, balanced=runner.policy.balanced)
        params.update(fixed.get(model, {}))
        return model, params

    stopped = run_study(
        runner,
        StudySource(study, decode),
        cap=cap,
        max_trials=max_trials,
        patience=None if max_trials is not None else PATIENCE,
        prune=True,
    )
    if stopped == "patience":
        runner.emit("stage", message=f"Optuna stopped: {PATIENCE} trials without improvement")


def _journal(path: str | None) -> Any:
    """An Optuna journal storage in file ``path`` (its folder is made), or None."""
    if path is None:
        return None
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path)))


def suggest(
    trial: Any, model: str, text_models: frozenset[str], *, balanced: bool = False
) -> dict[str, Any]:
    """The model's search space on ``trial``; for ``text_models`` also ``text_features``;
    with ``balanced`` the model's class weights (``models.BALANCED``)."""
    prefixed = _Prefixed(trial, model)
    params = search_space(model)(prefixed)  # type: ignore[misc]
    if model in text_models:
        params["text_features"] = prefixed.suggest_categorical("text_features", TEXT_METHODS)
    if balanced:
        params.update(BALANCED.get(model, {}))
    return params


class _Prefixed:
    """An Optuna trial whose parameter names carry the model (families share names)."""

    def __init__(self, trial: Any, model: str) -> None:
        self._trial, self._model = trial, model

    def suggest_float(self, name: str, *args: Any, **kw: Any) -> float:
        return self._trial.suggest_float(f"{self._model}.{name}", *args, **kw)

    def suggest_int(self, name: str, *args: Any, **kw: Any) -> int:
        return self._trial.suggest_int(f"{self._model}.{name}", *args, **kw)

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        return self._trial.suggest_categorical(f"{self._model}.{name}", choices)


def _within(dist: Any, value: Any) -> bool:
    """Whether ``value`` is a value ``dist`` can take (Optuna's public distributions)."""
    import optuna

    if isinstance(dist, optuna.distributions.CategoricalDistribution):
        return value in dist.choices
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(dist, optuna.distributions.IntDistribution) and int(value) != value:
        return False
    return bool(dist.low <= value <= dist.high)


def distribution_params(
    model: str, params: dict[str, Any], families: list[str], *, text: bool = False
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Optuna values and distributions for a portfolio configuration, so TPE starts from it;
    ``None`` when the configuration does not lie in the model's search space.

    ``text``: the model's trials also choose ``text_features`` (absent means TF-IDF).
    """
    import optuna

    space = search_space(model)
    if space is None:
        return None
    dists: dict[str, Any] = {}

    # a space may compute with what it suggests (a width halved per layer): the probe answers
    # with the configuration's value, else the range's low end; a missing value is refused below
    class _Probe:
        def suggest_float(self, name, low, high, log=False):
            dists[name] = optuna.distributions.FloatDistribution(low, high, log=log)
            return params.get(name, low)

        def suggest_int(self, name, low, high, log=False):
            dists[name] = optuna.distributions.IntDistribution(low, high, log=log)
            return params.get(name, low)

        def suggest_categorical(self, name, choices):
            dists[name] = optuna.distributions.CategoricalDistribution(choices)
            return params.get(name, choices[0])

    space(_Probe())
    if text:
        params = {"text_features": TEXT_METHODS[0], **params}
        dists["text_features"] = optuna.distributions.CategoricalDistribution(TEXT_METHODS)
    values: dict[str, Any] = {}
    prefixed: dict[str, Any] = {}
    for name, dist in dists.items():
        value = params.get(name)
        if value is None or not _within(dist, value):
            return None
        values[f"{model}.{name}"] = value
        prefixed[f"{model}.{name}"] = dist
    if len(families) > 1:
        prefixed["model"] = optuna.distributions.CategoricalDistribution(families)
        values["model"] = model
    return values, prefixed
