"""README's commands are the ones CI runs, and its Python example works."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _block_after(heading: str) -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"### {re.escape(heading)}\n\n```bash\n(.*?)```", text, re.S)
    assert match, f"README.md has no bash block under '### {heading}'"
    return [line for line in match.group(1).splitlines() if line.strip()]


def test_ci_runs_readme_test_commands_verbatim() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    commands = _block_after("Run the tests")
    assert commands, "no test commands in README"
    positions = [ci.index(cmd) for cmd in commands]  # ValueError if a command is missing or altered
    assert positions == sorted(positions)
    assert ci.index("pip install torch==2.13.0") < positions[0]


def test_readme_first_screen_is_short() -> None:
    first = (ROOT / "README.md").read_text(encoding="utf-8").split("---")[0]
    assert len(first.splitlines()) <= 30
    assert first.count("```bash") == 2
