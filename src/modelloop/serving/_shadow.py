"""Shadow mode (``modelloop serve --shadow NAME@ALIAS``): a challenger scores live traffic.

The champion answers every request as usual. The rows of each answered request are then
handed to one background thread, where the shadow version (``NAME@challenger``, say)
predicts them too; its outputs go to the prediction log under the model name
``'NAME@ALIAS'`` with the same request ids, never to the client. Feedback for ``NAME``
labels the shadow rows as well, so the two can be compared on real labels before a
promotion. The queue is bounded: when the shadow falls behind, its work is dropped (and
counted) rather than slowing the champion down.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from modelloop.exceptions import InvalidInputError, ModelloopError
from modelloop.serving._registry import ServedModel
from modelloop.serving._state import ServerState

__all__ = ["ShadowScorer", "install_shadow", "parse_shadow"]

log = logging.getLogger("modelloop.serving")
_STOP = object()


def parse_shadow(refs: Sequence[str]) -> dict[str, str]:
    """``['churn@challenger']`` -> ``{'churn': 'challenger'}``; one shadow per model.

    Examples
    --------
    >>> parse_shadow(["churn@challenger"])
    {'churn': 'challenger'}
    """
    out: dict[str, str] = {}
    for ref in refs:
        name, sep, alias = str(ref).partition("@")
        if not sep or not name or not alias:
            raise InvalidInputError(
                f"--shadow takes NAME@ALIAS (e.g. churn@challenger). Got {ref!r} instead."
            )
        if name in out:
            raise InvalidInputError(f"--shadow names model '{name}' twice; give one shadow each.")
        out[name] = alias
    return out


class ShadowScorer:
    """Scores the rows the champion answered with a shadow version, off the request path.

    Parameters
    ----------
    state : ServerState
        The server's state: its registry (where the shadow version is loaded, since every
        aliased version is) and its prediction log.
    shadows : dict
        Model name -> alias of its shadow version.
    max_queue : int
        Requests waiting for the shadow, at most; beyond that they are dropped.
    """

    def __init__(self, state: ServerState, shadows: dict[str, str], max_queue: int = 1000) -> None:
        self.state = state
        self.shadows = dict(shadows)
        self.scored = 0
        self.dropped = 0
        self.failed = 0
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_queue)
        self._thread = threading.Thread(target=self._loop, name="modelloop-shadow", daemon=True)
        self._thread.start()

    def log_names(self, name: str) -> list[str]:
        """The prediction-log names of ``name``'s shadow (``['churn@challenger']``)."""
        alias = self.shadows.get(name)
        return [] if alias is None else [f"{name}@{alias}"]

    def __call__(self, served: ServedModel, rows: list[Any], ids: list[str]) -> None:
        if served.name not in self.shadows:
            return
        try:
            self._queue.put_nowait((served, rows, ids))
        except queue.Full:
            self.dropped += len(rows)

    def close(self, timeout: float = 10.0) -> None:
        """Score what is queued, then stop the thread."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            served, rows, ids = item
            try:
                self._score(served, rows, ids)
            except ModelloopError as exc:
                self.failed += len(rows)
                log.warning("shadow of %s could not score: %s", served.name, exc)
            except Exception:  # a shadow must never take the server down
                self.failed += len(rows)
                log.exception("shadow of %s failed", served.name)

    def _score(self, champion: ServedModel, rows: list[Any], ids: list[str]) -> None:
        alias = self.shadows[champion.name]
        shadow = self.state.registry.get(champion.name, alias=alias)
        if shadow.version == champion.version:
            return  # promoted: it already answers
        typed = shadow.parser.validate(rows, "shadow")
        preds, probas = shadow.predict_rows(typed)
        self.scored += len(rows)
        predlog = self.state.predlog
        if predlog is None:
            return
        now = datetime.now(UTC)
        predlog.submit(
            [
                {
                    "request_id": rid,
                    "model_name": f"{champion.name}@{alias}",
                    "model_version": shadow.version,
                    "created_at": now,
                    "inputs": row,
                    "prediction": pred,
                    "probabilities": None if probas is None else probas[i],
                }
                for i, (rid, row, pred) in enumerate(zip(ids, typed, preds, strict=True))
            ]
        )


def install_shadow(app: Any, refs: Sequence[str]) -> ShadowScorer | None:
    """Make ``app`` (from ``create_app``) score its traffic with shadow versions too.

    Examples
    --------
    >>> app = create_app(settings, store)  # doctest: +SKIP
    >>> install_shadow(app, ["churn@challenger"])  # doctest: +SKIP
    """
    shadows = parse_shadow(refs)
    if not shadows:
        return None
    state: ServerState = app.state.modelloop
    scorer = ShadowScorer(state, shadows)
    state.extras["shadow"] = scorer
    return scorer
