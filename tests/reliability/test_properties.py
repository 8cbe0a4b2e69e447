"""Property-based tests (hypothesis) of the two parsers users feed by hand: the search-space schema and the
architecture string. Whatever the input, the outcome is a valid object that survives a round trip, or one
specific error on one line naming the source — never another exception.

tests/space/test_architecture.py already round-trips valid architectures and feeds random text to the
parser; here the inputs are near misses (valid inputs with one or two edits), which random text rarely is.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nasbench
from nasbench import Architecture, SearchSpace

BASES = {name: nasbench.load_space(name).to_dict() for name in ("nafnet_tiny", "lite_denoise", "restormer_tiny")}
SOURCE = "p.yaml"

# Values a hand-edited file may hold where another was expected.
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 40),
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.text(max_size=6),
    st.lists(st.integers(-1, 4), max_size=5),
    st.dictionaries(st.sampled_from(["a", "type", "block", "options", "label"]), st.integers(0, 3), max_size=2),
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path into nested dicts and lists."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    return [path for key, child in items for path in ((*prefix, key), *_paths(child, (*prefix, key)))]


@st.composite
def edited_specs(draw: st.DrawFn) -> dict[str, Any]:
    """A built-in space's declaration with one to three edits: a value replaced by junk, a key deleted, or
    an unknown key added."""
    spec = copy.deepcopy(BASES[draw(st.sampled_from(sorted(BASES)))])
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(spec)))
        parent = spec
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(JUNK)
        elif action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(["widht", "heads", "blocks", "x"]))] = draw(JUNK)
        if not isinstance(spec, dict):
            break
    return spec


def _error_line(exc: nasbench.NasbenchError, source: str) -> None:
    message = str(exc)
    assert "\n" not in message and message.startswith(f"{source}: "), message


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=edited_specs())
def test_edited_space_declarations(spec: dict[str, Any]) -> None:
    try:
        space = SearchSpace.from_dict(spec, source=SOURCE)
    except nasbench.SpaceError as exc:
        _error_line(exc, SOURCE)
    else:
        assert SearchSpace.from_dict(space.to_dict()) == space
        assert Architecture.parse(space, str(space.baseline())) == space.baseline()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("yaml")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(st.text(max_size=60), st.sampled_from(["a: [", "- x\n- y", "name: x\n  bad: indent", "{", "~"])))
def test_arbitrary_yaml_text(text: str, folder: Path) -> None:
    path = folder / "space.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        nasbench.load_space(path)
    except nasbench.SpaceError as exc:
        _error_line(exc, str(path))


# ---------------------------------------------------------------------- architecture strings
SPACES = {name: nasbench.load_space(name) for name in BASES}
WORDS = st.sampled_from(["naf", "naf_bn", "restormer", "ssm", "lite", "identity", "x", "", "*", ",", ":", "enc1"])


@st.composite
def near_miss_strings(draw: st.DrawFn) -> tuple[str, str]:
    """(space name, a valid architecture string with one or two token edits)."""
    name = draw(st.sampled_from(sorted(SPACES)))
    space = SPACES[name]
    labels = [draw(st.sampled_from(p.labels)) for p in space.positions]
    tokens = str(Architecture(space, labels)).split(" ")
    for _ in range(draw(st.integers(1, 2))):
        i = draw(st.integers(0, len(tokens) - 1))
        stage, _, body = tokens[i].partition(":")
        edit = draw(st.sampled_from(["drop", "duplicate", "label", "repeat", "stage", "separator"]))
        if edit == "drop" and len(tokens) > 1:
            del tokens[i]
        elif edit == "duplicate":
            tokens.insert(i, tokens[i])
        elif edit == "label":
            tokens[i] = f"{stage}:{draw(WORDS)}"
        elif edit == "repeat":
            tokens[i] = f"{stage}:{body.split('*')[0]}*{draw(st.integers(-2, 30))}"
        elif edit == "stage":
            tokens[i] = f"{draw(WORDS)}:{body}"
        else:
            tokens[i] = tokens[i].replace(":", draw(st.sampled_from([" : ", "::", "", ";"])), 1)
    return name, " ".join(tokens)


@settings(max_examples=300, deadline=None)
@given(case=near_miss_strings())
def test_near_miss_architecture_strings(case: tuple[str, str]) -> None:
    name, text = case
    space = SPACES[name]
    try:
        arch = Architecture.parse(space, text)
    except nasbench.ArchitectureError as exc:
        message = str(exc)
        assert "\n" not in message and message
        if "unknown candidate" in message:
            assert "(known: " in message
    else:
        assert Architecture.parse(space, str(arch)) == arch
        assert space.from_indices(space.indices(arch)) == arch
