"""Worker processes do not re-run the user's script: no ``__main__`` guard is needed."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
import pandas as pd
import modelloop as ml
from modelloop.config import Settings

frame = pd.DataFrame({"x": [i % 7 for i in range(80)], "y": [i % 2 for i in range(80)]})
result = ml.train(frame, target="y", models=["decision_tree"], max_trials=1, time_budget=60,
                  register=False, settings=Settings(home=sys.argv[1]))
print("TRAINED", result.best_model)
"""


def test_train_in_a_script_without_main_guard(tmp_path) -> None:
    script = tmp_path / "plain_script.py"
    script.write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "home")],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("TRAINED") == 1
