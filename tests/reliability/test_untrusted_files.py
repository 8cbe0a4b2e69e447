"""Untrusted files: nothing nasbench reads can run code. The package source is scanned for unsafe loaders (so
a future change that adds one fails here), and real malicious files — a pickle that runs a shell command,
YAML with Python tags — are refused, one line each, by every entry point that reads them, without the
payload running.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
from pathlib import Path

import killable
import pytest
import torch
from PIL import Image
from reliability_support import cli, cli_subprocess

import nasbench
from nasbench.latency import LatencyTable, LatencyTableError
from nasbench.search.surrogates import WEIGHTS_NAME, SurrogateError, Surrogates, distill_surrogates
from nasbench.train import TrainingError, finetune
from nasbench.train.loop import CHECKPOINT_NAME

PACKAGE = Path(nasbench.__file__).parent

# Calls that deserialise objects (and so may run code from the file); ``torch.load`` is allowed only with
# ``weights_only=True`` and ``numpy.load`` only without ``allow_pickle=True``.
FORBIDDEN = {
    "yaml.load", "yaml.load_all", "yaml.unsafe_load", "yaml.unsafe_load_all", "yaml.full_load",
    "yaml.full_load_all", "pickle.load", "pickle.loads", "pickle.Unpickler", "dill.load", "dill.loads",
    "cloudpickle.load", "cloudpickle.loads", "joblib.load", "marshal.load", "marshal.loads", "shelve.open",
    "pandas.read_pickle", "pd.read_pickle", "torch.jit.load", "jsonpickle.decode", "eval", "exec",
}  # fmt: skip


def _name(node: ast.expr) -> str:
    """The dotted name of a call target: ``torch.load``, ``yaml.load``, ``eval``; '' when not a plain name."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _name(node.value)
        return f"{inner}.{node.attr}" if inner else ""
    return ""


def _is_true(call: ast.Call, keyword: str) -> bool:
    return any(k.arg == keyword and isinstance(k.value, ast.Constant) and k.value.value is True for k in call.keywords)


def unsafe_loads(source: str, filename: str) -> list[str]:
    """Every unsafe deserialisation in ``source``, as ``file:line: call``."""
    found = []
    tree = ast.parse(source, filename)
    aliases = {
        alias.asname or alias.name: f"{node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        head, _, rest = name.partition(".")
        name = f"{aliases[head]}.{rest}".rstrip(".") if head in aliases else name
        name = name.replace("numpy.", "np.", 1) if name.startswith("numpy.") else name
        unsafe = (
            name in FORBIDDEN
            or (name == "torch.load" and not _is_true(node, "weights_only"))
            or (name == "np.load" and _is_true(node, "allow_pickle"))
        )
        if unsafe:
            found.append(f"{filename}:{node.lineno}: {name}")
    return found


def test_the_package_has_no_unsafe_loads() -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 40
    found = [hit for path in files for hit in unsafe_loads(path.read_text(encoding="utf-8"), str(path))]
    assert found == []


def test_the_scan_finds_unsafe_loads() -> None:
    source = (
        "import yaml, torch, pickle\nimport numpy as np\nfrom pickle import loads as undo\n"
        "yaml.load(t)\nyaml.safe_load(t)\ntorch.load(p)\ntorch.load(p, weights_only=False)\n"
        "torch.load(p, map_location='cpu', weights_only=True)\npickle.loads(b)\nundo(b)\n"
        "np.load(p)\nnp.load(p, allow_pickle=True)\neval(s)\n"
    )
    assert unsafe_loads(source, "x.py") == [
        "x.py:4: yaml.load",
        "x.py:6: torch.load",
        "x.py:7: torch.load",
        "x.py:9: pickle.loads",
        "x.py:10: pickle.loads",
        "x.py:12: np.load",
        "x.py:13: eval",
    ]


# ---------------------------------------------------------------------- real malicious files
class _Payload:
    """Unpickling this runs a shell command: the attack weights-only loading exists to stop."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


@pytest.fixture
def evil(tmp_path: Path) -> tuple[Path, Path]:
    """A checkpoint-looking file whose unpickling would create ``marker``; (file, marker)."""
    marker, path = tmp_path / "pwned", tmp_path / "evil.pt"
    torch.save({"step": 1, "model": _Payload(marker)}, path)
    return path, marker


def test_a_plain_unpickler_would_run_the_payload(evil: tuple[Path, Path]) -> None:
    path, marker = evil
    with path.open("rb") as f:
        torch.load(f, weights_only=False)  # the attack is real
    assert marker.exists()


def test_finetune_resume_refuses_it(evil: tuple[Path, Path], tmp_path: Path) -> None:
    path, marker = evil
    folder = tmp_path / "run"
    folder.mkdir()
    path.rename(folder / CHECKPOINT_NAME)
    with pytest.raises(TrainingError, match=r"last\.pt: refused: .*posix\.system.*weights_only=True\)$"):
        finetune(killable._network(0), killable._crops(), steps=2, checkpoint_dir=folder, resume=True, progress=False)
    assert not marker.exists()


def test_surrogates_load_refuses_it(evil: tuple[Path, Path], tmp_path: Path) -> None:
    path, marker = evil
    space = nasbench.load_space("nafnet_tiny")
    folder = tmp_path / "surrogates"
    teacher = killable._network(2, width=16)
    distill_surrogates(
        space, teacher, killable._crops(), steps=1, batch_size=2, positions=["enc1.0"], eval_batches=1, progress=False
    ).save(folder)
    path.replace(folder / WEIGHTS_NAME)
    # Record the malicious file's digest in the manifest, as a crafted directory would, so that loading gets
    # past the digest check to the unpickler, which must refuse it.
    manifest = json.loads((folder / "surrogates.json").read_text(encoding="utf-8"))
    manifest["weights_sha256"] = hashlib.sha256((folder / WEIGHTS_NAME).read_bytes()).hexdigest()
    (folder / "surrogates.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises((TrainingError, SurrogateError), match="refused: .*posix.system"):
        Surrogates.load(folder, space)
    assert not marker.exists()


@pytest.mark.parametrize("command", ["restore", "saliency"])
def test_the_cli_refuses_it_in_one_line(
    command: str, evil: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, marker = evil
    image = tmp_path / "in.png"
    Image.new("RGB", (24, 20), (120, 30, 200)).save(image)
    argv = {
        "restore": ["restore", str(image), str(tmp_path / "out.png"), "--model", "lite_denoise_net"],
        "saliency": ["saliency", "--space", "nafnet_tiny", "--output", str(tmp_path / "s"), "--crop", "16"],
    }[command]
    line = cli([*argv, "--weights", str(path)], capsys).line(command)
    assert line.startswith(f"{path}: refused: ") and "posix.system" in line
    assert not marker.exists() and not (tmp_path / "out.png").exists()


def test_the_cli_refuses_it_in_a_real_process(evil: tuple[Path, Path], tmp_path: Path) -> None:
    path, marker = evil
    image = tmp_path / "in.png"
    Image.new("RGB", (24, 20)).save(image)
    argv = ["restore", str(image), str(tmp_path / "out.png"), "--model", "lite_denoise_net", "--weights", str(path)]
    assert cli_subprocess(argv, tmp_path).line("restore").startswith(f"{path}: refused: ")
    assert not marker.exists()


def test_restore_with_weights_of_another_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weights = tmp_path / "other.pt"
    torch.save(torch.nn.Conv2d(3, 3, 1).state_dict(), weights)
    image = tmp_path / "in.png"
    Image.new("RGB", (24, 20)).save(image)
    argv = ["restore", str(image), str(tmp_path / "o.png"), "--model", "lite_denoise_net", "--weights", str(weights)]
    assert cli(argv, capsys).line("restore").startswith(f"{weights}: weights do not fit model 'lite_denoise_net' (")


# ---------------------------------------------------------------------- YAML with Python tags
PYTHON_TAG = '!!python/object/apply:os.system ["touch {marker}"]'


def test_yaml_python_tags_are_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    space = tmp_path / "space.yaml"
    space.write_text(f"name: {PYTHON_TAG.format(marker=marker)}\nbackbone: {{type: nafnet}}\ncandidates: [naf]\n")
    with pytest.raises(nasbench.SpaceError, match=r"space\.yaml: malformed YAML: .*python/object/apply:os\.system"):
        nasbench.load_space(space)
    table = tmp_path / "table.yaml"
    table.write_text(f"format: nasbench-latency-table\nmetadata: {PYTHON_TAG.format(marker=marker)}\n")
    with pytest.raises(LatencyTableError, match=r"table\.yaml: malformed YAML: .*python/object/apply:os\.system"):
        LatencyTable.load(table)
    assert not marker.exists()

