from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelloop.features import DatetimeFeatures


def test_datetime_features_parts_and_elapsed_days() -> None:
    X = pd.DataFrame({"d": pd.to_datetime(["1970-01-02", "2024-02-29", None])})
    dt = DatetimeFeatures().fit(X)
    out = dt.transform(X)
    assert list(dt.get_feature_names_out()) == [
        "d_year",
        "d_month",
        "d_day",
        "d_day_of_week",
        "d_days",
    ]
    assert out[0].tolist() == [1970.0, 1.0, 2.0, 4.0, 1.0]
    assert out[1].tolist() == [2024.0, 2.0, 29.0, 3.0, 19782.0]
    assert np.isnan(out[2]).all()


def test_datetime_features_hour_only_when_time_seen_in_fit() -> None:
    X = pd.DataFrame(
        {
            "date": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "stamp": pd.to_datetime(["2024-01-01 06:00", "2024-01-02 18:30"]),
        }
    )
    dt = DatetimeFeatures().fit(X)
    names = list(dt.get_feature_names_out())
    assert "date_hour" not in names and "stamp_hour" in names
    out = dt.transform(X)
    assert out[:, names.index("stamp_hour")].tolist() == [6.0, 18.0]
    assert out[1, names.index("stamp_days")] == pytest.approx(19724 + 18.5 / 24)
    # a time of day at transform time does not add a column
    later = X.assign(date=pd.to_datetime(["2024-03-01 12:00", None]))
    assert dt.transform(later).shape == (2, len(names))


def test_datetime_features_timezones_strings_and_numbers() -> None:
    aware = pd.DataFrame({"t": pd.to_datetime(["2024-01-01 01:00"]).tz_localize("Europe/Paris")})
    # 01:00 in Paris is midnight UTC: no time of day, so no hour column
    assert DatetimeFeatures().fit_transform(aware).tolist() == [[2024.0, 1.0, 1.0, 0.0, 19723.0]]
    text = pd.DataFrame({"t": ["2024-05-06", "not a date", None]})
    out = DatetimeFeatures().fit_transform(text)
    assert out[0, 0] == 2024.0 and np.isnan(out[1:]).all()
    ns = pd.Timestamp("2000-01-01").value
    assert DatetimeFeatures().fit_transform(np.array([[float(ns)]]))[0, 0] == 2000.0


def test_datetime_features_column_count_checked() -> None:
    dt = DatetimeFeatures().fit(np.zeros((3, 1)))
    with pytest.raises(ValueError, match="X has 2 features, but DatetimeFeatures is expecting 1"):
        dt.transform(np.zeros((1, 2)))
