"""The README is what a newcomer reads first: it starts with the two commands."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_starts_with_the_two_commands() -> None:
    lines = [line for line in (ROOT / "README.md").read_text().splitlines() if line.strip()]
    assert lines[0] == "# modelloop"
    assert lines[1] == "```sh"
    assert lines[2].startswith("make demo ")
    assert lines[3].startswith("make test ")


def test_readme_links_only_pages_that_exist() -> None:
    text = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\((docs/[^)#]*)", text)
    assert targets, "the README links the documentation pages"
    missing = [t for t in targets if not (ROOT / t).exists()]
    assert missing == []
