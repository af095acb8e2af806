"""Rewards for logged decisions: once, in time, for a known event; every outcome counted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from modelloop.exceptions import InvalidInputError
from modelloop.store import Store, check_reward


def _decisions(store: Store, ages_min: list[float], model: str = "offers") -> None:
    now = datetime.now(UTC)
    store.log_predictions(
        [
            {
                "request_id": f"e{i}",
                "model_name": model,
                "model_version": 1,
                "created_at": now - timedelta(minutes=age),
                "inputs": {"x": 1.0},
                "prediction": "a",
                "probabilities": {"a": 0.9, "b": 0.1},
            }
            for i, age in enumerate(ages_min)
        ]
    )


def test_record_rewards_judges_each_item(store: Store) -> None:
    _decisions(store, [1, 2, 90, 3])  # e2 was decided 90 minutes ago
    store.record_rewards("offers", [{"event_id": "e3", "reward": 1}], wait_seconds=3600)
    result = store.record_rewards(
        "offers",
        [
            {"event_id": "e0", "reward": 1},
            {"event_id": "e1", "reward": "0.5"},
            {"event_id": "e2", "reward": 1},  # past the hour's wait
            {"event_id": "e3", "reward": 1},  # the same reward again: a duplicate
            {"event_id": "zz", "reward": 1},  # never decided
            {"event_id": "e0", "reward": 0},  # a second, different reward in the batch
            {"event_id": "e1", "reward": "lots"},
            {"reward": 1},
        ],
        wait_seconds=3600,
    )
    assert result.recorded == 2
    assert result.expired == ["e2"] and result.n_expired == 1
    assert result.duplicates == ["e3"]
    assert result.conflicts == ["e0"]
    assert result.unknown == ["zz"]
    assert [r["index"] for r in result.rejected] == [6, 7]
    assert "reward must be a number. Got 'lots'" in result.rejected[0]["reason"]
    assert result.details["e2"]["late_by_s"] == pytest.approx(30 * 60, abs=60)
    rows = {r.request_id: r for r in store.get_predictions("offers")}
    assert rows["e0"].label == 1.0 and rows["e1"].label == 0.5
    assert rows["e2"].label is None and rows["e2"].labeled_at is None
    assert store.reward_counts("offers") == {"decisions": 4, "rewarded": 3}


def test_a_conflicting_reward_keeps_the_first(store: Store) -> None:
    _decisions(store, [1])
    store.record_rewards("offers", [{"event_id": "e0", "reward": 1}], wait_seconds=60 * 60)
    again = store.record_rewards("offers", [{"event_id": "e0", "reward": 0}], wait_seconds=3600)
    assert again.recorded == 0 and again.conflicts == ["e0"]
    assert again.details["e0"]["reward"] == 1.0
    assert store.get_predictions("offers")[0].label == 1.0


def test_rewards_of_another_model_are_unknown(store: Store) -> None:
    _decisions(store, [1], model="other")
    result = store.record_rewards("offers", [{"event_id": "e0", "reward": 1}], wait_seconds=60)
    assert result.unknown == ["e0"] and result.recorded == 0


def test_record_rewards_refuses_a_non_list(store: Store) -> None:
    with pytest.raises(InvalidInputError, match="must be a list"):
        store.record_rewards("offers", "e0", wait_seconds=60)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, 1.0), (False, 0.0), ("2.5", 2.5), (None, None), (float("inf"), None), ([1], None)],
)
def test_check_reward(value, expected):
    number, reason = check_reward(value)
    assert number == expected
    assert bool(reason) == (expected is None)
