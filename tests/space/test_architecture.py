"""Architecture: immutability, string and JSON round trips, error messages; property-based parsing."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nasbench
from nasbench import Architecture, load_space

SPACES = {name: load_space(name) for name in ("nafnet_sidd", "restormer", "lite_denoise", "nafnet_tiny")}


def _architectures(space: nasbench.SearchSpace) -> st.SearchStrategy[Architecture]:
    return st.tuples(*(st.sampled_from(p.labels) for p in space.positions)).map(
        lambda labels: Architecture(space, labels)
    )


@pytest.mark.parametrize("name", SPACES)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_string_and_json_round_trip(name: str, data: st.DataObject) -> None:
    space = SPACES[name]
    arch = data.draw(_architectures(space))
    assert Architecture.parse(space, str(arch)) == arch
    assert Architecture.from_json(space, arch.to_json()) == arch
    assert space.from_indices(space.indices(arch)) == arch


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=80))
def test_parser_never_crashes_on_garbage(text: str) -> None:
    space = SPACES["nafnet_tiny"]
    try:
        arch = Architecture.parse(space, text)
    except nasbench.ArchitectureError as exc:
        assert "\n" not in str(exc)
    else:
        assert str(Architecture.parse(space, str(arch))) == str(arch)


def test_baseline_string_is_compact() -> None:
    space = SPACES["nafnet_sidd"]
    assert str(space.baseline()) == (
        "enc1:naf*2 enc2:naf*2 enc3:naf*4 enc4:naf*8 middle:naf*12 dec4:naf*2 dec3:naf*2 dec2:naf*2 dec1:naf*2"
    )


def test_immutable_and_hashable() -> None:
    space = SPACES["nafnet_tiny"]
    arch = space.baseline()
    with pytest.raises(AttributeError):
        arch._labels = ()  # type: ignore[misc]
    assert {arch: 1}[space.baseline()] == 1
    changed = arch.replace(space, enc1_0="conv_bn_relu")
    assert changed["enc1.0"] == "conv_bn_relu" and arch["enc1.0"] == "naf"


def test_json_shape() -> None:
    space = SPACES["nafnet_tiny"]
    data = json.loads(space.baseline().to_json())
    assert data["space"] == "nafnet_tiny" and data["choices"]["middle.1"] == "naf"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty architecture string"),
        ("enc1 naf", r"'enc1' is not 'stage:label,label\*n'"),
        ("enc1:naf enc1:naf", "stage 'enc1' appears twice"),
        ("enc9:naf", r"unknown stage 'enc9' \(known: enc1, enc2, enc3, enc4, middle, dec4, dec3, dec2, dec1\)"),
        ("enc1:naf*0", r"bad repeat 'naf\*0'"),
        (
            "enc1:naf,naf enc2:naf enc3:naf enc4:naf*2 middle:naf*2 dec4:naf dec3:naf dec2:naf dec1:naf",
            "stage 'enc1' has 1 positions, got 2 labels",
        ),
        (
            "enc1:nafx enc2:naf enc3:naf enc4:naf*2 middle:naf*2 dec4:naf dec3:naf dec2:naf dec1:naf",
            r"position enc1.0: unknown candidate 'nafx' \(known: naf, naf_bn, naf_lite, conv_bn_relu\)",
        ),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(nasbench.ArchitectureError, match=message):
        Architecture.parse(SPACES["nafnet_tiny"], text)


def test_constructor_errors() -> None:
    space = SPACES["nafnet_tiny"]
    with pytest.raises(nasbench.ArchitectureError, match="has 11 positions, got 2 choices"):
        Architecture(space, ["naf", "naf"])
    with pytest.raises(nasbench.ArchitectureError, match="no choice for position"):
        Architecture(space, {"enc1.0": "naf"})
    with pytest.raises(nasbench.ArchitectureError, match="made for space 'other'"):
        Architecture.from_json(space, '{"space": "other", "choices": {}}')
    with pytest.raises(nasbench.ArchitectureError, match="architecture JSON"):
        Architecture.from_json(space, "{not json")
    with pytest.raises(nasbench.ArchitectureError, match="index 7 out of range 0..3"):
        space.from_indices([7] + [0] * 10)
