"""The quickstart pipeline end to end, at tiny settings (the real run is `nasbench quickstart`)."""

from __future__ import annotations

import json

import torch

import nasbench
from nasbench.quickstart import SETTINGS, quickstart
from nasbench.search.summary import format_summary

TINY = {
    "latency_input": [32, 32],
    "profile": {"warmup": 1, "runs": 2, "rounds": 1},
    "data": {"task": "denoise", "sigma": 25, "crop": 32},
    "darts": {**SETTINGS["darts"], "steps": 6, "warmup_steps": 2, "batch_size": 2},
    "finetune": {"steps": 4, "batch_size": 2, "lr": 1e-3},
}
M_KEYS = {"architecture", "params", "macs", "latency_ms", "predicted_latency_ms", "psnr_db", "ssim"}


def test_quickstart_writes_summary_and_artifacts(tmp_path) -> None:
    summary = quickstart(tmp_path, progress=False, settings=TINY)
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk == json.loads(json.dumps(summary))
    space = nasbench.load_space("nafnet_tiny")
    for name in ("baseline", "found"):
        m = summary[name]
        assert set(m) == M_KEYS
        assert m["latency_ms"] > 0 and m["predicted_latency_ms"] > 0 and 0 < m["ssim"] <= 1
        arch = nasbench.Architecture.parse(space, m["architecture"])
        model = nasbench.fold_batchnorm(space.build(arch))
        model.load_state_dict(torch.load(tmp_path / f"{name}.pt", weights_only=True))
        assert (tmp_path / f"{name}.onnx").exists()
    assert summary["baseline"]["architecture"] == str(space.baseline())
    assert summary["settings"]["engine"] == "darts"
    for name in ("architecture.txt", "history.csv", "alpha.png", "latency_table.yaml"):
        assert (tmp_path / name).exists()
    assert "speed-up" in format_summary(summary)


def test_unknown_engine_and_settings_are_refused_before_any_work(tmp_path) -> None:
    import pytest

    with pytest.raises(nasbench.NasbenchError, match=r"engine 'nope' is not available \(known: darts, mobo\)"):
        quickstart(tmp_path, engine="nope")
    with pytest.raises(nasbench.NasbenchError, match=r"settings: surrogates.fration: unknown option"):
        quickstart(tmp_path / "m", engine="mobo", settings={"surrogates": {"fration": 0.5}})
    with pytest.raises(nasbench.NasbenchError, match=r"settings: darts.muu: unknown option .*did you mean 'mu'"):
        quickstart(tmp_path / "d", settings={"darts": {"muu": 1.0}})
    assert not (tmp_path / "m").exists() and not (tmp_path / "d").exists()
