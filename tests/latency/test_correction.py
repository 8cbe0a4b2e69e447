"""The learned residual correction: fitting, storing it in the table file, applying it (on the tiny
space's table at 32×32), calibrating and validating with it (real onnxruntime sessions on a 3-position
space at 16×16, so that each end-to-end network exports in about a second)."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from nasbench import SearchSpace
from nasbench.cli import main
from nasbench.latency import BlockKey, LatencyTable, LatencyTableError, Protocol
from nasbench.latency.correction import Correction, calibrate, fit_correction
from nasbench.latency.validate import distinct_random, validate


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[SearchSpace, LatencyTable]:
    space = SearchSpace(
        name="small",
        backbone={"type": "nafnet", "width": 8, "encoder_blocks": [1], "middle_blocks": 1, "decoder_blocks": [1]},
        candidates=["naf", "conv_bn_relu"],
    )
    quick = Protocol(warmup=1, runs=2, rounds=1)
    return space, LatencyTable.profile(space, (16, 16), quick, work_dir=tmp_path_factory.mktemp("p"), progress=False)


def _fitted(tiny_space, tiny_table, n: int = 12) -> tuple[Correction, list]:
    """A correction fitted to synthetic 'measurements' with a known residual: +2 ms, +10 % on naf
    blocks, −5 % on conv_bn_relu blocks."""
    archs = distinct_random(tiny_space, n, seed=3)
    parts = [tiny_table.signature_breakdown(tiny_space, a) for a in archs]
    plain = [tiny_table.predict(tiny_space, a, corrected=False) for a in archs]

    def truth(sig: dict) -> float:
        by = {b: sum(ms for k, ms in sig.items() if k.block == b) for b in ("naf", "conv_bn_relu")}
        return 2.0 + 0.10 * by["naf"] - 0.05 * by["conv_bn_relu"]

    measured = [p + truth(s) for p, s in zip(plain, parts)]
    c = fit_correction(tiny_space.name, (32, 32), parts, plain, measured, [str(a) for a in archs], "block", seed=3)
    return c, archs


def test_fit_recovers_a_known_residual(tiny_space, tiny_table) -> None:
    c, _ = _fitted(tiny_space, tiny_table)
    assert c.intercept_ms == pytest.approx(2.0, abs=0.05)
    assert c.scale["naf"] == pytest.approx(0.10, abs=0.01)
    assert c.scale["conv_bn_relu"] == pytest.approx(-0.05, abs=0.01)
    assert abs(c.scale["naf_bn"]) < 0.01 and abs(c.scale["naf_lite"]) < 0.01
    assert c.fit["mape_corrected_pct"] < 0.05 < c.fit["mape_plain_pct"]
    assert c.fit["mape_leave_one_out_pct"] < 0.2 and c.fit["n"] == 12 and c.fit["seed"] == 3
    assert len(c.calibration) == 12 and set(c.calibration[0]) == {"architecture", "measured_ms"}


def test_fit_keeps_only_the_intercept_when_the_scales_do_not_generalise() -> None:
    naf, conv = BlockKey("naf", (), 16, 32, 32), BlockKey("conv_bn_relu", (), 16, 32, 32)
    parts = [{naf: 1.0 + i % 3, conv: 2.0 + (i * 5) % 4} for i in range(8)]
    plain = [10.0 + sum(p.values()) for p in parts]
    offsets = [3.0, -1.0, 2.5, -0.5, 1.0, 0.0, 2.0, 1.0]  # no relation to the blocks: a constant fits best
    c = fit_correction("t", (32, 32), parts, plain, [p + o for p, o in zip(plain, offsets)], ["a"] * 8)
    assert c.fit["penalty"] == "inf (intercept only)" and set(c.scale.values()) == {0.0}
    assert c.intercept_ms == pytest.approx(sum(offsets) / 8)


def test_fit_needs_enough_networks_and_a_known_grouping(tiny_space, tiny_table) -> None:
    arch = tiny_space.baseline()
    parts = [tiny_table.signature_breakdown(tiny_space, arch)] * 2
    with pytest.raises(LatencyTableError, match="≥ 3 calibration networks, got 2"):
        fit_correction("s", (32, 32), parts, [1.0, 1.0], [1.0, 1.0], ["a", "b"])
    with pytest.raises(LatencyTableError, match=r"unknown correction grouping 'blocks' \(known: block, block_level\)"):
        fit_correction("s", (32, 32), parts * 2, [1.0] * 4, [1.0] * 4, ["a"] * 4, "blocks")


def test_predict_adds_the_correction_only_where_it_was_fitted(tiny_space, tiny_table) -> None:
    c, _ = _fitted(tiny_space, tiny_table)
    table = replace(tiny_table, correction=c)
    arch = tiny_space.random(7)
    plain = tiny_table.predict(tiny_space, arch)
    assert table.predict(tiny_space, arch, corrected=False) == pytest.approx(plain)
    expected = c.residual_ms(tiny_table.signature_breakdown(tiny_space, arch))
    assert table.correction_ms(tiny_space, arch) == pytest.approx(expected) != 0
    assert table.predict(tiny_space, arch) == pytest.approx(plain + expected)
    assert set(table.breakdown(tiny_space, arch)) == {"skeleton", *arch}  # the parts stay the plain sum's
    other = replace(c, input_size=(64, 64))
    assert replace(tiny_table, correction=other).predict(tiny_space, arch) == pytest.approx(plain)
    # merging changes the entries the correction was fitted to, so the merged table has none
    assert table.merge(LatencyTable(dict(tiny_table.metadata), (32, 32))).correction is None


def test_correction_round_trips_through_the_file(tiny_space, tiny_table, tmp_path) -> None:
    c, _ = _fitted(tiny_space, tiny_table)
    path = replace(tiny_table, correction=c).save(tmp_path / "t.yaml")
    text = path.read_text()
    assert "\ncorrection:\n" in text and sum(line.startswith("    - {") for line in text.splitlines()) == 12
    again = LatencyTable.load(path)
    assert again.correction == c and again == replace(tiny_table, correction=c)
    # a table without a correction still writes (and reads) exactly as before
    assert "correction" not in tiny_table.save(tmp_path / "plain.yaml").read_text()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t: t.replace('  grouping: "block"', '  grouping: "stage"'), r"correction.grouping: unknown .* 'stage'"),
        (lambda t: t.replace("  intercept_ms:", "  offset_ms:"), r"correction: unknown key 'offset_ms'"),
        (lambda t: t.replace('  scale: {"', '  scale: {"x": "fast", "'), r"correction.scale: expected a mapping"),
        (lambda t: t.replace('"measured_ms": ', '"measured": '), r"correction.calibration: expected a list"),
    ],
)
def test_malformed_correction_names_the_file_and_key(tiny_space, tiny_table, tmp_path, mutate, message) -> None:
    c, _ = _fitted(tiny_space, tiny_table)
    path = replace(tiny_table, correction=c).save(tmp_path / "t.yaml")
    path.write_text(mutate(path.read_text()))
    with pytest.raises(LatencyTableError, match=re.escape(str(path)) + ": " + message):
        LatencyTable.load(path)


def test_distinct_random_skips_excluded_architectures(tiny_space) -> None:
    sample = distinct_random(tiny_space, 6, seed=5)
    assert len({str(a) for a in sample}) == 6
    rest = distinct_random(tiny_space, 6, seed=5, exclude=[str(a) for a in sample[:2]])
    assert rest[:4] == sample[2:] and not {str(a) for a in sample[:2]} & {str(a) for a in rest}


def test_calibrate_then_validate_reports_plain_and_corrected(small) -> None:
    space, plain_table = small
    table = calibrate(space, plain_table, n=3, seed=11, progress=False)
    c = table.correction
    assert c is not None and c.space == "small" and c.input_size == (16, 16) and len(c.calibration) == 3
    assert all(row["measured_ms"] > 0 for row in c.calibration) and c.fit["protocol"]["runs"] == 2
    assert c.fit["penalty"] != 0  # 3 networks, 3 coefficients: only a penalised fit is defined
    assert plain_table.correction is None  # calibrate returns a new table
    # the validation sample is drawn with the calibration seed on purpose: it must skip those networks
    report = validate(space, table, n=2, seed=11, progress=False)
    assert not {r["architecture"] for r in report.rows} & set(c.architectures())
    assert report.corrected and "plain sum of parts" in str(report)
    for row in report.rows:
        arch = space.architecture(row["architecture"])
        assert row["predicted_plain_ms"] == pytest.approx(plain_table.predict(space, arch))
        assert row["predicted_ms"] == pytest.approx(table.predict(space, arch))
    assert {"plain_kendall_tau", "plain_mape_pct", "plain_within_10pct"} <= set(report.metrics)


def test_cli_calibrate_writes_a_corrected_table(small, tmp_path, capsys) -> None:
    space, plain_table = small
    (tmp_path / "small.yaml").write_text(space.to_yaml(), encoding="utf-8")
    source = plain_table.save(tmp_path / "t.yaml")
    out = tmp_path / "corrected.yaml"
    argv = ["latency", "calibrate", "--json", "--space", str(tmp_path / "small.yaml"), "--table", str(source)]
    assert main([*argv, "--n", "3", "--seed", "2", "--output", str(out)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["table"] == str(out) and result["n"] == 3 and "mape_leave_one_out_pct" in result
    assert LatencyTable.load(out).correction.fit["seed"] == 2
    assert main([*argv, "--grouping", "stage", "--output", str(out)]) == 2
    assert "unknown correction grouping 'stage'" in capsys.readouterr().err
