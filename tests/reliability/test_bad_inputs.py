"""The bad-input corpus: every kind of bad input gives one specific ``NasbenchError`` subclass with a one-line
message naming the file and key — through the Python API, through the command line run in this process
(one line on stderr, exit code 2, no traceback), and, once per kind, through a real ``nasbench`` process.

Data files live in ``corpus/`` (search spaces, user-block spaces, architecture strings, latency-table edits);
images and folders are generated here in ``tmp_path``. Kinds no command takes (user blocks, data folders,
teachers) are checked through the API only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
import yaml
from PIL import Image
from reliability_support import CORPUS, cli, cli_subprocess
from torch import nn

import nasbench
from nasbench.blocks import register_block, unregister_block
from nasbench.errors import ArchitectureError, NasbenchError, SpaceError
from nasbench.latency import LatencyTable, LatencyTableError
from nasbench.search import LatencyCost
from nasbench.search.surrogates import check_teacher
from nasbench.train import CropDataset, DataError, PairedFolder, TrainingError, distill, read_image

TABLES = Path(nasbench.__file__).parent / "profiles" / "tables"
SPACE_FILES = sorted((CORPUS / "spaces").glob("*.yaml"))
OLD_SPACE_FILES = sorted((Path(__file__).parent.parent / "space" / "bad_yaml").glob("*.yaml"))
USER_BLOCK_FILES = sorted((CORPUS / "user_blocks").glob("*.yaml"))
ARCHITECTURES = yaml.safe_load((CORPUS / "architectures.yaml").read_text(encoding="utf-8"))
TABLE_CASES = yaml.safe_load((CORPUS / "tables.yaml").read_text(encoding="utf-8"))
DARTS_ARGS = ["--space", "nafnet_tiny", "--crop", "16", "--steps", "2", "--warmup-steps", "1"]


def _expected(path: Path) -> str:
    first = path.read_bytes().split(b"\n", 1)[0].decode("utf-8")
    assert first.startswith("# expect: "), f"{path.name} lacks its '# expect:' line"
    return first.removeprefix("# expect: ")


def _one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(exc.value)
    assert "\n" not in message and message.strip() == message, message
    return message


def _ids(cases: list[dict]) -> list[str]:
    return [case["id"] for case in cases]


# ---------------------------------------------------------------------- search-space YAML
@pytest.mark.parametrize("path", SPACE_FILES, ids=lambda p: p.stem)
def test_space_file_api(path: Path) -> None:
    with pytest.raises(SpaceError) as info:
        nasbench.load_space(path)
    assert _one_line(info).startswith(f"{path}: {_expected(path)}"), str(info.value)


@pytest.mark.parametrize("path", SPACE_FILES + OLD_SPACE_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_space_file_cli(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = cli(["space", "--space", str(path)], capsys).line("space")
    assert line.startswith(f"{path}: {_expected(path)}"), line


def test_space_file_real_process(tmp_path: Path) -> None:
    path = CORPUS / "spaces" / "whitespace_only.yaml"
    line = cli_subprocess(["space", "--space", str(path)], tmp_path).line("space")
    assert line == f"{path}: {_expected(path)}"


# ---------------------------------------------------------------------- user blocks that break the contract
@pytest.fixture
def user_blocks() -> Iterator[None]:
    """Blocks a user might register by mistake: wrong channels, wrong resolution, not a tensor, failing."""

    class Widen(nn.Module):
        def __init__(self, channels: int) -> None:
            super().__init__()
            self.conv = nn.Conv2d(channels, 2 * channels, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.conv(x)

    class Halve(nn.Module):
        def __init__(self, channels: int) -> None:
            super().__init__()
            self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.conv(x)

    class Pair(nn.Module):
        def __init__(self, channels: int) -> None:
            super().__init__()

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return x, x

    class BrokenInit(nn.Module):
        def __init__(self, channels: int) -> None:
            super().__init__()
            raise RuntimeError("weights file missing")

    class BrokenForward(nn.Module):
        def __init__(self, channels: int) -> None:
            super().__init__()
            self.linear = nn.Linear(3, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.linear(x)

    blocks = {"widen": Widen, "halve": Halve, "pair": Pair, "broken_init": BrokenInit, "broken_forward": BrokenForward}
    for name, cls in blocks.items():
        register_block(f"reliability_{name}")(cls)
    yield
    for name in blocks:
        unregister_block(f"reliability_{name}")


@pytest.mark.parametrize("path", USER_BLOCK_FILES, ids=lambda p: p.stem)
def test_user_block_breaking_the_contract(path: Path, user_blocks: None) -> None:
    with pytest.raises(SpaceError) as info:
        nasbench.load_space(path)
    assert _one_line(info).startswith(f"{path}: {_expected(path)}"), str(info.value)


def test_user_block_contract_check_leaves_the_block_as_built(user_blocks: None) -> None:
    @register_block("reliability_counting_bn")
    class CountingBN(nn.Module):
        def __init__(self, channels: int) -> None:
            super().__init__()
            self.norm = nn.BatchNorm2d(channels)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + self.norm(x)

    try:
        block = nasbench.create_block("reliability_counting_bn", 4)
        assert block.training and int(block.norm.num_batches_tracked) == 0  # the probe ran in eval mode
        assert torch.equal(block.norm.running_mean, torch.zeros(4))
    finally:
        unregister_block("reliability_counting_bn")


# ---------------------------------------------------------------------- impossible shapes that are not errors
@pytest.mark.parametrize("name", ["nafnet_tiny", "restormer_tiny", "lite_denoise"])
def test_odd_resolutions_are_padded_not_refused(name: str) -> None:
    """A 4-level U-Net halves the resolution 3 or 4 times; odd and tiny sizes are padded inside the network
    and the output keeps the input's size."""
    model = nasbench.load_space(name).build().eval()
    with torch.no_grad():
        for size in ((31, 33), (3, 5)):
            assert model(torch.rand(1, 3, *size)).shape == (1, 3, *size)


def test_wrong_channel_count_names_the_expected_shape() -> None:
    model = nasbench.load_space("nafnet_tiny").build()
    with pytest.raises(nasbench.ShapeError) as info:
        model(torch.rand(1, 1, 16, 16))
    assert _one_line(info) == "NAFNetUNet: expected an N×3×H×W tensor, got shape (1, 1, 16, 16)"


# ---------------------------------------------------------------------- architecture strings
@pytest.mark.parametrize("case", ARCHITECTURES, ids=_ids(ARCHITECTURES))
def test_architecture_string_api(case: dict) -> None:
    with pytest.raises(ArchitectureError) as info:
        nasbench.load_space(case["space"]).architecture(case["arch"])
    assert re.search(case["message"], _one_line(info)), str(info.value)


@pytest.mark.parametrize("case", ARCHITECTURES, ids=_ids(ARCHITECTURES))
def test_architecture_string_cli(case: dict, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["count", "--space", case["space"], "--arch", case["arch"], "--input-size", "16", "16"]
    line = cli(argv, capsys).line("count")
    assert re.search(case["message"], line), line


def test_architecture_string_real_process(tmp_path: Path) -> None:
    case = next(c for c in ARCHITECTURES if c["id"] == "unknown_candidate")
    argv = ["count", "--space", case["space"], "--arch", case["arch"], "--input-size", "16", "16"]
    assert re.search(case["message"], cli_subprocess(argv, tmp_path).line("count"))


def test_architecture_of_the_wrong_type() -> None:
    with pytest.raises(ArchitectureError) as info:
        nasbench.load_space("nafnet_tiny").architecture(7)  # type: ignore[arg-type]
    assert _one_line(info) == (
        "space 'nafnet_tiny': expected a mapping of position to label, a list of labels or an architecture "
        "string, got int"
    )


# ---------------------------------------------------------------------- latency tables
def _table_file(case: dict, folder: Path) -> Path:
    """Apply the case's edit to its measured base table (see corpus/tables.yaml)."""
    text = case["text"] if "text" in case else (TABLES / case["base"]).read_text(encoding="utf-8")
    if "replace" in case:
        old, new = case["replace"]
        assert old in text, case["id"]
        text = text.replace(old, new, 1)
    if "sub" in case:
        text, count = re.subn(case["sub"][0], case["sub"][1], text, count=1)
        assert count == 1, case["id"]
    lines = text.splitlines(keepends=True)
    if "drop" in case:
        kept = [line for line in lines if not re.search(case["drop"], line)]
        assert len(kept) < len(lines), case["id"]
        text = "".join(kept)
    if "repeat" in case:
        line = next(line for line in lines if re.search(case["repeat"], line))
        text = text.replace(line, line + line, 1)
    path = folder / f"{case['id']}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _message(case: dict, path: Path) -> str:
    """The case's regex; ``{path}`` stands for the table file."""
    return case["message"].replace("{path}", re.escape(str(path)))


@pytest.mark.parametrize("case", TABLE_CASES, ids=_ids(TABLE_CASES))
def test_latency_table_api(case: dict, tmp_path: Path) -> None:
    path = _table_file(case, tmp_path)
    if case["when"] == "load":
        with pytest.raises(LatencyTableError) as info:
            LatencyTable.load(path)
        assert _one_line(info).startswith(f"{path}: ")
    else:
        table = LatencyTable.load(path)
        with pytest.raises(NasbenchError) as info:
            LatencyCost(nasbench.load_space("nafnet_tiny"), table)
    assert re.search(_message(case, path), _one_line(info)), str(info.value)


@pytest.mark.parametrize("case", TABLE_CASES, ids=_ids(TABLE_CASES))
def test_latency_table_cli(case: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _table_file(case, tmp_path)
    argv = ["search", "darts", *DARTS_ARGS, "--table", str(path), "--output", str(tmp_path / "out")]
    line = cli(argv, capsys).line("search darts")
    assert re.search(_message(case, path), line), line
    assert not (tmp_path / "out").exists()  # refused before any work


def test_latency_table_real_process(tmp_path: Path) -> None:
    case = next(c for c in TABLE_CASES if c["id"] == "other_schema_version")
    path = _table_file(case, tmp_path)
    argv = ["latency", "validate", "--space", "nafnet_tiny", "--table", str(path), "--output", str(tmp_path / "v")]
    line = cli_subprocess(argv, tmp_path).line("latency validate")
    assert line == f"{path}: schema_version: this nasbench reads version 1, the file has 2"


# ---------------------------------------------------------------------- images
def _rgb(height: int = 12, width: int = 9, dtype: type = np.uint8) -> np.ndarray:
    top = np.iinfo(dtype).max
    return np.random.default_rng(0).integers(0, top, (height, width, 3), endpoint=True).astype(dtype)


def _png(path: Path, array: np.ndarray, mode: str | None = None) -> None:
    (Image.fromarray(array, mode=mode) if mode else Image.fromarray(array)).save(path)


def _truncated(path: Path, fmt: str) -> None:
    Image.fromarray(_rgb(64, 64)).save(path, format=fmt)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


IMAGES: dict[str, tuple[str, Callable[[Path], None], str]] = {
    # id: (file name, writer, regex of the message after "<path>: ")
    "gray_8bit": ("g.png", lambda p: _png(p, _rgb()[..., 0]), r"grayscale image \(12×9\); nasbench needs RGB"),
    "gray_16bit": ("g16.png", lambda p: _png(p, _rgb(dtype=np.uint16)[..., 0]), r"grayscale image \(12×9\)"),
    "gray_alpha": ("ga.png", lambda p: _png(p, _rgb()[..., :2].copy(), "LA"), r"grayscale image \(12×9\)"),
    "gray_tiff_16bit": ("g.tif", lambda p: tifffile.imwrite(p, _rgb(dtype=np.uint16)[..., 0]), "grayscale image"),
    "truncated_png": ("t.png", lambda p: _truncated(p, "PNG"), "cannot read image: "),
    "truncated_jpeg": ("t.jpg", lambda p: _truncated(p, "JPEG"), "cannot read image: "),
    "empty_file": ("e.png", lambda p: p.write_bytes(b""), "cannot read image: "),
    "not_an_image": ("n.png", lambda p: p.write_text("hello"), "cannot read image: "),
    "several_images": (
        "m.tif",
        lambda p: tifffile.imwrite(p, np.stack([_rgb(), _rgb()])),
        r"holds several images \(axes ",
    ),
    "five_channels": (
        "c5.tif",
        lambda p: tifffile.imwrite(p, np.zeros((8, 8, 5), np.uint8), photometric="minisblack", planarconfig="contig"),
        "expected an H×W×3 image, got shape 8×8×5",
    ),
    "int32_samples": (
        "i32.tif",
        lambda p: tifffile.imwrite(p, np.zeros((8, 8, 3), np.int32), photometric="rgb"),
        r"unsupported sample type int32 \(known: uint8, uint16, bool, float\)",
    ),
}


@pytest.mark.parametrize("case", IMAGES)
def test_image_api(case: str, tmp_path: Path) -> None:
    name, write, message = IMAGES[case]
    path = tmp_path / name
    write(path)
    with pytest.raises(DataError) as info:
        read_image(path)
    assert re.match(re.escape(f"{path}: ") + message, _one_line(info)), str(info.value)


@pytest.mark.parametrize("case", IMAGES)
def test_image_cli(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name, write, message = IMAGES[case]
    path, out = tmp_path / name, tmp_path / "out.png"
    write(path)
    argv = ["restore", str(path), str(out), "--model", "lite_denoise_net", "--tile", "32", "--overlap", "8"]
    line = cli(argv, capsys).line("restore")
    assert re.match(re.escape(f"{path}: ") + message, line), line
    assert not out.exists()


def test_image_real_process(tmp_path: Path) -> None:
    path, out = tmp_path / "t.png", tmp_path / "out.png"
    _truncated(path, "PNG")
    line = cli_subprocess(["restore", str(path), str(out), "--model", "lite_denoise_net"], tmp_path).line("restore")
    assert line.startswith(f"{path}: cannot read image: ")


def test_16bit_colour_is_read_at_full_precision(tmp_path: Path) -> None:
    """16-bit is not bad input: a 16-bit RGB TIFF keeps all 16 bits (divided by 65535)."""
    array = _rgb(dtype=np.uint16)
    tifffile.imwrite(tmp_path / "c.tif", array)
    np.testing.assert_array_equal(read_image(tmp_path / "c.tif"), array.astype(np.float32) / 65535)


# ---------------------------------------------------------------------- data folders and pairs
def _folder(root: Path, name: str, images: dict[str, np.ndarray], notes: bool = False) -> Path:
    folder = root / name
    folder.mkdir()
    for file, array in images.items():
        _png(folder / file, array)
    if notes:
        (folder / "notes.txt").write_text("no images here")
    return folder


FOLDERS: dict[str, tuple[Callable[[Path], tuple[Path, Path]], str]] = {
    # id: (make (degraded, clean) folders, regex of the message)
    "empty_folder": (
        lambda r: (_folder(r, "d", {}), _folder(r, "c", {"a.png": _rgb()})),
        r"/d: no images \(\.png, \.jpg, \.jpeg, \.tif, \.tiff\)$",
    ),
    "only_other_files": (
        lambda r: (_folder(r, "d", {}, notes=True), _folder(r, "c", {"a.png": _rgb()})),
        r"/d: no images",
    ),
    "missing_folder": (lambda r: (r / "nope", _folder(r, "c", {"a.png": _rgb()})), r"/nope: no such folder$"),
    "unpaired_names": (
        lambda r: (_folder(r, "d", {"a.png": _rgb(), "b.png": _rgb()}), _folder(r, "c", {"a.png": _rgb()})),
        r"/d and .*/c do not pair up by file name: only in .*/d: b$",
    ),
    "sizes_differ_in_a_pair": (
        lambda r: (_folder(r, "d", {"a.png": _rgb(12, 9)}), _folder(r, "c", {"a.png": _rgb(12, 10)})),
        r"/d/a\.png is 12×9 but .*/c/a\.png is 12×10; a pair must have one size$",
    ),
}


@pytest.mark.parametrize("case", FOLDERS)
def test_data_folder_api(case: str, tmp_path: Path) -> None:
    make, message = FOLDERS[case]
    degraded, clean = make(tmp_path)
    with pytest.raises(DataError) as info:
        PairedFolder(degraded, clean)
    assert re.search(message, _one_line(info)), str(info.value)


def test_grayscale_image_in_a_pair_is_named_when_read(tmp_path: Path) -> None:
    degraded = _folder(tmp_path, "d", {"a.png": _rgb()[..., 0]})
    folder = PairedFolder(degraded, _folder(tmp_path, "c", {"a.png": _rgb()}))
    with pytest.raises(DataError) as info:
        folder[0]
    assert _one_line(info).startswith(f"{degraded / 'a.png'}: grayscale image (12×9)")


def test_crop_larger_than_a_pair(tmp_path: Path) -> None:
    folder = PairedFolder(_folder(tmp_path, "d", {"a.png": _rgb()}), _folder(tmp_path, "c", {"a.png": _rgb()}))
    with pytest.raises(DataError) as info:
        CropDataset(folder, 16, None)
    assert _one_line(info) == "CropDataset: crop 16×16 is larger than image 'a' (12×9)"


# ---------------------------------------------------------------------- teachers
def _conv(out_channels: int = 3, stride: int = 1) -> nn.Module:
    torch.manual_seed(0)
    return nn.Conv2d(3, out_channels, 3, stride=stride, padding=1)


@pytest.fixture(scope="module")
def crops() -> CropDataset:
    return CropDataset([np.random.default_rng(0).random((24, 24, 3), dtype=np.float32)], 16, "noise", length=8)


@pytest.mark.parametrize(
    ("teacher", "message"),
    [
        (lambda: _conv(out_channels=1), r"teacher output has shape 2×1×16×16 but the clean batch has 2×3×16×16"),
        (lambda: _conv(stride=2), r"teacher output has shape 2×3×8×8 but the clean batch has 2×3×16×16"),
    ],
    ids=["channels", "resolution"],
)
def test_teacher_output_shape_differs(teacher: Callable[[], nn.Module], message: str, crops: CropDataset) -> None:
    with pytest.raises(TrainingError) as info:
        distill(_conv(), teacher(), crops, steps=1, batch_size=2, progress=False)
    assert re.search(message, _one_line(info)), str(info.value)


def test_teacher_of_another_space_for_surrogates() -> None:
    space = nasbench.load_space("nafnet_tiny")
    other = nasbench.load_space("restormer_tiny").build()
    with pytest.raises(nasbench.ModelError) as info:
        check_teacher(space, other)
    assert "are not those of space 'nafnet_tiny'" in _one_line(info)


def test_an_absurd_block_option_is_refused_before_it_allocates() -> None:
    """Validating a space builds its candidates once; ffn_expansion=1e7 would need ≈ 40 GB of weights."""
    spec = nasbench.load_space("restormer_tiny").to_dict()
    spec["backbone"]["ffn_expansion"] = 1e7
    with pytest.raises(nasbench.SpaceError, match=r"^p\.yaml: candidates\.0: block 'restormer' .* would have "
                       r"10,560,001,521 parameters \(limit 1,073,741,824\); check its options$"):
        nasbench.SearchSpace.from_dict(spec, source="p.yaml")
