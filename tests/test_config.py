"""Run configurations: defaults ← YAML file ← flags ← --set, with errors naming the source and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from nasbench.config import apply_overrides, build_config, check_keys, read_config, set_key
from nasbench.errors import NasbenchError
from nasbench.quickstart import ENGINES, MOBO_SETTINGS, SETTINGS

ALLOWED = {"space": None, "darts": {"steps", "mu"}, "data": None}
DEFAULTS = {"space": "nafnet_tiny", "darts": {"steps": 10, "mu": 0.5}, "data": {"task": "denoise"}}


def check(settings) -> None:
    check_keys(settings, ALLOWED)


def test_layers_in_order(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("darts: {steps: 50}\ndata: {crop: 32}\n")
    cfg = build_config(
        DEFAULTS, check, path, flags={"darts.mu": ("--mu", 2.0)}, overrides=["darts.mu=1.5", "data.crop=[8, 8]"]
    )
    assert cfg["space"] == "nafnet_tiny" and cfg["darts"] == {"steps": 50, "mu": 1.5}
    assert cfg["data"] == {"task": "denoise", "crop": [8, 8]}
    assert DEFAULTS["darts"] == {"steps": 10, "mu": 0.5}  # defaults untouched


def test_sections_of_a_file(tmp_path: Path) -> None:
    path = tmp_path / "scales.yaml"
    path.write_text("tiny: {darts: {steps: 5}}\npaper: {darts: {steps: 5000}}\n")
    assert build_config(DEFAULTS, check, path, section="paper")["darts"]["steps"] == 5000
    with pytest.raises(NasbenchError, match=r"scales.yaml: no section 'papr' \(known: tiny, paper\); did you mean"):
        read_config(path, "papr")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("darts: {muu: 1}\n", r"run.yaml: settings: darts.muu: unknown option \(known: mu, steps\); did you mean 'mu'"),
        ("dart: {mu: 1}\n", r"run.yaml: settings: dart: unknown key \(known: darts, data, space\); did you mean"),
        ("darts: 3\n", r"run.yaml: settings: darts must be a mapping of options, got 3"),
        ("- a\n- b\n", r"run.yaml: a configuration must be a mapping of settings, got list"),
        ("darts: {mu: [1\n", r"run.yaml: line \d+: not valid YAML"),
    ],
)
def test_bad_files_name_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(text)
    with pytest.raises(NasbenchError, match=message) as info:
        build_config(DEFAULTS, check, path)
    assert "\n" not in str(info.value)


def test_bad_overrides_name_the_item() -> None:
    with pytest.raises(NasbenchError, match=r"--set darts.stps=3: settings: darts.stps: unknown option .*'steps'"):
        build_config(DEFAULTS, check, overrides=["darts.stps=3"])
    with pytest.raises(NasbenchError, match=r"--set 'darts.mu': expected KEY=VALUE"):
        set_key({}, "darts.mu")
    with pytest.raises(NasbenchError, match=r"space is a value \('nafnet_tiny'\), not a section"):
        apply_overrides(DEFAULTS, ["space.width=3"])
    with pytest.raises(NasbenchError, match=r"--mu x: settings: darts.mu"):
        only_steps = {**ALLOWED, "darts": {"steps"}}
        build_config(DEFAULTS, lambda c: check_keys(c, only_steps), flags={"darts.mu": ("--mu", "x")})
    with pytest.raises(NasbenchError, match=r"missing.yaml: cannot read the configuration"):
        read_config("missing.yaml")


def test_engine_defaults_are_valid_and_checked() -> None:
    for engine in ENGINES.values():
        engine.validate(engine.settings)
    with pytest.raises(NasbenchError, match=r"settings: surrogates.fration: unknown option .*did you mean 'fraction'"):
        ENGINES["mobo"].validate({**MOBO_SETTINGS, "surrogates": {"fration": 0.5}})
    with pytest.raises(NasbenchError, match=r"settings: profile.rnus: unknown option \(known: graph_optimization"):
        ENGINES["mobo"].validate({**MOBO_SETTINGS, "profile": {"rnus": 1}})
    with pytest.raises(NasbenchError, match=r"settings: finetune.step: unknown option"):
        ENGINES["darts"].validate({**SETTINGS, "finetune": {"step": 3}})


def test_example_configs_parse() -> None:
    root = Path(__file__).resolve().parents[1] / "examples"
    ern = read_config(root / "ern_net.yaml", "tiny")
    ENGINES["darts"].validate({**SETTINGS, **ern})
    deblur = read_config(root / "deblur_mobo.yaml", "tiny")
    ENGINES["mobo"].validate({**MOBO_SETTINGS, **deblur})
