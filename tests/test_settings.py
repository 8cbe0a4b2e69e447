"""Recipe settings: a YAML section with dotted KEY=VALUE overrides, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from nasbench.settings import SettingsError, apply_overrides, load_settings


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    path = tmp_path / "r.yaml"
    path.write_text("tiny:\n  steps: 10\n  data: {sigma: 25}\npaper:\n  steps: 1000\n")
    return path


def test_overrides_parse_yaml_values_and_create_parents(recipe: Path) -> None:
    cfg = load_settings(recipe, "tiny", ["steps=3", "data.sigma=15", "crops=[[2, 16, 2]]", "new.deep.key=null"])
    assert cfg == {"steps": 3, "data": {"sigma": 15}, "crops": [[2, 16, 2]], "new": {"deep": {"key": None}}}
    assert load_settings(recipe, "paper") == {"steps": 1000}


def test_unknown_section_lists_the_known_ones(recipe: Path) -> None:
    with pytest.raises(SettingsError, match=r"r\.yaml: no section 'huge' \(known: tiny, paper\)$"):
        load_settings(recipe, "huge")


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("steps", r"--set 'steps': expected KEY=VALUE"),
        ("=3", r"--set '=3': expected KEY=VALUE"),
        ("steps.x=1", r"--set 'steps.x=1': steps is not a mapping"),
        ("steps=[1", r"--set 'steps=\[1': the value is not valid YAML"),
    ],
)
def test_malformed_overrides_name_the_item(item: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        apply_overrides({"steps": 10}, [item])
