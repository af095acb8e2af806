from __future__ import annotations

import numpy as np
import pandas as pd

from modelloop.features import MISSING_CATEGORY, MissingCategory


def test_missing_category_every_missing_marker_becomes_the_category() -> None:
    X = pd.DataFrame(
        {"c": pd.Series(["a", None, pd.NA, np.nan], dtype=object), "n": [1, 2, 3, np.nan]}
    )
    out = MissingCategory().fit_transform(X)
    assert out.dtype == object
    assert out[:, 0].tolist() == ["a", MISSING_CATEGORY, MISSING_CATEGORY, MISSING_CATEGORY]
    assert out[:, 1].tolist() == ["1.0", "2.0", "3.0", MISSING_CATEGORY]


def test_missing_category_custom_fill_and_names() -> None:
    mc = MissingCategory(fill_value="none").fit(pd.DataFrame({"alley": ["Grvl", None]}))
    assert mc.transform(pd.DataFrame({"alley": [None]})).tolist() == [["none"]]
    assert list(mc.get_feature_names_out()) == ["alley"]
