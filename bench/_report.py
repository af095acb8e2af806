"""Write one benchmark's table into docs/benchmarks.md, between markers of its own."""

from __future__ import annotations

import re
from pathlib import Path

BENCHMARKS_MD = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"

_HEADER = """# Benchmarks

Every table below is written by a script in `bench/`, which measures its baseline in the same
run and prints ratios (these machines are shared and noisy, so absolute times drift). Rerun a
script to refresh its section; the command is given with each table.
"""


def write_section(key: str, body: str, path: Path = BENCHMARKS_MD) -> None:
    """Replace (or append) the section marked ``key`` in the benchmarks file."""
    start, end = f"<!-- bench:{key}:start -->", f"<!-- bench:{key}:end -->"
    block = f"{start}\n{body.strip()}\n{end}"
    text = path.read_text() if path.exists() else _HEADER
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    text = (
        pattern.sub(lambda _: block, text)
        if pattern.search(text)
        else text.rstrip() + "\n\n" + block + "\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
