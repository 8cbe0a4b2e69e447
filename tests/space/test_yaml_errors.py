"""A corpus of bad search-space files, each with the message it must produce.

Each file in ``bad_yaml/`` starts with ``# expect: <text>``; loading it must raise ``SpaceError`` whose
message names the file and contains the text.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import nasbench

CORPUS = sorted((Path(__file__).parent / "bad_yaml").glob("*.yaml"))


def _expected(path: Path) -> str:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} lacks its '# expect:' line"
    return first.removeprefix("# expect: ")


def test_corpus_is_not_empty() -> None:
    assert len(CORPUS) >= 20


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_bad_yaml_gives_one_line_error_naming_file_and_key(path: Path) -> None:
    with pytest.raises(nasbench.SpaceError) as info:
        nasbench.load_space(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert _expected(path) in message, message
    assert "\n" not in message


def test_missing_file() -> None:
    with pytest.raises(nasbench.SpaceError, match=r"nope\.yaml: no such file"):
        nasbench.load_space("nope.yaml")


def test_unknown_space_name_lists_builtins() -> None:
    with pytest.raises(nasbench.SpaceError, match=r"unknown search space 'nafnet_sid'.*known: .*nafnet_sidd"):
        nasbench.load_space("nafnet_sid")
