"""nasbench.train.data: image files, degradations, built-in photos, paired folders, crops, validation pairs."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
import torch

from nasbench.errors import NasbenchError
from nasbench.train import data
from nasbench.train.data import (
    CropDataset,
    DefocusBlur,
    GaussianNoise,
    MotionBlur,
    PairedFolder,
    builtin_data,
    builtin_images,
    create_degradation,
    disk_kernel,
    list_degradations,
    motion_kernel,
    read_image,
    register_degradation,
    validation_pairs,
)
from nasbench.train.errors import DataError


def _rgb8(height: int = 20, width: int = 30, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _rgb16(height: int = 20, width: int = 30, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 65536, (height, width, 3), dtype=np.uint16)


def _write_png16(path: Path, image: np.ndarray) -> None:
    """A 16-bit colour PNG, rows cycling through all five PNG filters (no library here writes one)."""
    height, width, channels = image.shape
    rows = image.astype(">u2").view(np.uint8).reshape(height, width * channels * 2).astype(np.int32)
    bpp = channels * 2
    lines = []
    for i, row in enumerate(rows):
        up = rows[i - 1] if i else np.zeros_like(row)
        left = np.concatenate([np.zeros(bpp, np.int32), row[:-bpp]])
        up_left = np.concatenate([np.zeros(bpp, np.int32), up[:-bpp]])
        estimate = left + up - up_left
        pa, pb, pc = abs(estimate - left), abs(estimate - up), abs(estimate - up_left)
        paeth = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, up_left))
        kind = i % 5
        predicted = [np.zeros_like(row), left, up, (left + up) // 2, paeth][kind]
        lines.append(bytes([kind]) + ((row - predicted) % 256).astype(np.uint8).tobytes())

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    color_type = {3: 2, 4: 6}[channels]
    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(lines)))
    path.write_bytes(png + chunk(b"IEND", b""))


# ---------------------------------------------------------------------- reading images
def test_read_8bit_png(tmp_path: Path) -> None:
    pixels = _rgb8()
    iio.imwrite(tmp_path / "a.png", pixels)
    image = read_image(tmp_path / "a.png")
    assert image.dtype == np.float32 and image.shape == (20, 30, 3)
    np.testing.assert_array_equal(image, pixels.astype(np.float32) / 255)


@pytest.mark.parametrize("channels", [3, 4])
def test_read_16bit_png_keeps_full_precision(tmp_path: Path, channels: int) -> None:
    pixels = np.random.default_rng(1).integers(0, 65536, (21, 17, channels), dtype=np.uint16)
    _write_png16(tmp_path / "a.png", pixels)
    image = read_image(tmp_path / "a.png")
    assert image.shape == (21, 17, 3)
    np.testing.assert_array_equal(image, pixels[..., :3].astype(np.float32) / 65535)


@pytest.mark.parametrize("pixels", [_rgb8(), _rgb16()], ids=["8bit", "16bit"])
def test_read_tiff(tmp_path: Path, pixels: np.ndarray) -> None:
    tifffile.imwrite(tmp_path / "a.tif", pixels, photometric="rgb")
    scale = np.iinfo(pixels.dtype).max
    np.testing.assert_array_equal(read_image(tmp_path / "a.tif"), pixels.astype(np.float32) / scale)


def test_read_planar_tiff(tmp_path: Path) -> None:
    pixels = _rgb16()
    tifffile.imwrite(tmp_path / "a.tiff", pixels.transpose(2, 0, 1), photometric="rgb", planarconfig="separate")
    np.testing.assert_array_equal(read_image(tmp_path / "a.tiff"), pixels.astype(np.float32) / 65535)


def test_read_jpeg(tmp_path: Path) -> None:
    pixels = np.full((16, 16, 3), (200, 40, 90), dtype=np.uint8)
    iio.imwrite(tmp_path / "a.jpg", pixels, quality=95)
    image = read_image(tmp_path / "a.jpg")
    assert image.shape == (16, 16, 3)
    np.testing.assert_allclose(image, pixels / 255, atol=4 / 255)


def test_rgba_drops_alpha(tmp_path: Path) -> None:
    pixels = np.concatenate([_rgb8(), np.zeros((20, 30, 1), np.uint8)], axis=2)
    iio.imwrite(tmp_path / "a.png", pixels)
    np.testing.assert_array_equal(read_image(tmp_path / "a.png"), pixels[..., :3] / np.float32(255))


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_grayscale_is_refused_unless_allowed(tmp_path: Path, suffix: str) -> None:
    gray = np.random.default_rng(0).integers(0, 65536, (12, 9), dtype=np.uint16)
    path = tmp_path / f"g{suffix}"
    iio.imwrite(path, gray)
    with pytest.raises(DataError, match=re.escape(f"{path}: grayscale image (12×9); nasbench needs RGB")):
        read_image(path)
    image = read_image(path, allow_gray=True)
    assert image.shape == (12, 9, 3)
    np.testing.assert_array_equal(image[..., 1], gray / np.float32(65535))  # 16-bit gray keeps its precision


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif"])
def test_truncated_file_names_the_file(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"cut{suffix}"
    iio.imwrite(path, _rgb8(64, 64))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))}: cannot read image"):
        read_image(path)


def test_unreadable_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "x.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match="x.png: cannot read image"):
        read_image(tmp_path / "x.png")
    with pytest.raises(DataError, match="nope.png: no such file"):
        read_image(tmp_path / "nope.png")


def test_multipage_tiff_is_refused(tmp_path: Path) -> None:
    tifffile.imwrite(tmp_path / "m.tif", np.zeros((2, 8, 8, 3), np.uint8), photometric="rgb")
    with pytest.raises(DataError, match="m.tif: holds several images"):
        read_image(tmp_path / "m.tif")


def test_data_error_is_a_nasbench_error() -> None:
    assert issubclass(DataError, NasbenchError)


# ---------------------------------------------------------------------- degradations
@pytest.mark.parametrize("name", list_degradations())
def test_every_degradation_keeps_shape_and_follows_its_seed(name: str, photo: np.ndarray) -> None:
    degradation = create_degradation(name)
    first = degradation(photo, np.random.default_rng(3))
    assert first.shape == photo.shape and first.dtype == np.float32
    np.testing.assert_array_equal(first, degradation(photo, np.random.default_rng(3)))
    assert not np.array_equal(first, photo)


def test_noise_seeds_differ() -> None:
    image = np.full((8, 8, 3), 0.5, np.float32)
    noise = GaussianNoise(25)
    assert not np.array_equal(noise(image, np.random.default_rng(0)), noise(image, np.random.default_rng(1)))


@pytest.mark.parametrize("sigma", [15, 25, 50])
def test_noise_std_is_sigma_over_255(sigma: float) -> None:
    image = np.full((256, 256, 3), 0.5, np.float32)
    residual = GaussianNoise(sigma)(image, np.random.default_rng(0)) - image
    assert abs(residual.std() - sigma / 255) < 0.01 * sigma / 255
    assert abs(residual.mean()) < 1e-3


def test_noise_is_not_clipped_by_default() -> None:
    image = np.zeros((64, 64, 3), np.float32)
    assert GaussianNoise(25)(image, np.random.default_rng(0)).min() < 0
    assert GaussianNoise(25, clip=True)(image, np.random.default_rng(0)).min() == 0


@pytest.mark.parametrize("length, angle", [(1, 0), (2, 10), (9, 0), (9, 33.3), (15, 90), (7.5, 135)])
def test_motion_kernel_sums_to_one(length: float, angle: float) -> None:
    kernel = motion_kernel(length, angle)
    assert kernel.shape[0] == kernel.shape[1] and kernel.shape[0] % 2 == 1
    assert kernel.min() >= 0 and abs(kernel.sum() - 1) < 1e-6


def test_motion_kernel_direction() -> None:
    horizontal, vertical = motion_kernel(9, 0), motion_kernel(9, 90)
    assert horizontal.shape == (9, 9)
    np.testing.assert_allclose(horizontal[4], np.full(9, 1 / 9), atol=1e-6)  # all weight on the middle row
    np.testing.assert_allclose(vertical, horizontal.T, atol=1e-6)
    np.testing.assert_array_equal(motion_kernel(1, 45), [[1.0]])


@pytest.mark.parametrize("radius", [0, 0.01, 1, 2.5, 4])
def test_disk_kernel_sums_to_one_and_is_round(radius: float) -> None:
    kernel = disk_kernel(radius)
    assert kernel.shape[0] % 2 == 1 and abs(kernel.sum() - 1) < 1e-6
    np.testing.assert_allclose(kernel, kernel.T, atol=1e-7)
    np.testing.assert_allclose(kernel, kernel[::-1], atol=1e-7)


@pytest.mark.parametrize("blur", [MotionBlur(9, 30), DefocusBlur(3)])
def test_blur_keeps_size_and_flat_images(blur: MotionBlur | DefocusBlur) -> None:
    flat = np.full((20, 25, 3), 0.3, np.float32)
    np.testing.assert_allclose(blur(flat, np.random.default_rng(0)), flat, atol=1e-6)


def test_motion_blur_draws_its_angle_from_the_rng(photo: np.ndarray) -> None:
    blur = MotionBlur(9)
    assert not np.array_equal(blur(photo, np.random.default_rng(0)), blur(photo, np.random.default_rng(1)))


def test_degradation_errors() -> None:
    with pytest.raises(DataError, match=r"unknown degradation 'nosie' \(known: .*noise.*did you mean 'noise'"):
        create_degradation("nosie")
    with pytest.raises(DataError, match=r"degradation 'noise': unknown option 'sgima' \(known: sigma, clip\)"):
        create_degradation("noise", sgima=25)
    with pytest.raises(DataError, match="sigma must be a number > 0"):
        create_degradation("noise", sigma=0)
    with pytest.raises(DataError, match="length must be a number ≥ 1"):
        MotionBlur(length=0)
    with pytest.raises(DataError, match="radius must be a number ≥ 0"):
        DefocusBlur(radius=-1)
    with pytest.raises(DataError, match="too large for a 4×4 image"):
        DefocusBlur(radius=5)(np.zeros((4, 4, 3), np.float32), np.random.default_rng(0))


def test_register_degradation(monkeypatch: pytest.MonkeyPatch, photo: np.ndarray) -> None:
    monkeypatch.setattr(data._DEGRADATIONS, "_items", dict(data._DEGRADATIONS._items))

    @register_degradation("darken")
    def darken(factor: float = 0.5) -> data.Degradation:
        return lambda image, rng: image * np.float32(factor)

    assert "darken" in list_degradations()
    dataset = CropDataset({"p": photo}, 16, "darken", length=4)
    degraded, clean = dataset[0]
    torch.testing.assert_close(degraded, clean * 0.5)
    with pytest.raises(DataError, match="already registered"):
        register_degradation("darken")(lambda: darken())


# ---------------------------------------------------------------------- built-in photographs
def test_builtin_splits() -> None:
    val, train, every = builtin_images("val"), builtin_images("train"), builtin_images("all")
    assert list(val) == ["chelsea", "coffee"]
    assert set(train) == {"astronaut", "rocket", "hubble_deep_field", "immunohistochemistry", "retina", "logo"}
    assert set(every) == set(val) | set(train)
    for name, image in every.items():
        assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.float32, name
        assert 0 <= image.min() and image.max() <= 1 and not image.flags.writeable
    with pytest.raises(DataError, match=r"unknown split 'test' \(known: train, val, all\)"):
        builtin_images("test")


# ---------------------------------------------------------------------- paired folders
def _folders(tmp_path: Path, degraded: dict[str, np.ndarray], clean: dict[str, np.ndarray]) -> tuple[Path, Path]:
    for folder, images in (("noisy", degraded), ("clean", clean)):
        (tmp_path / folder).mkdir(exist_ok=True)
        for name, pixels in images.items():
            iio.imwrite(tmp_path / folder / name, pixels)
    return tmp_path / "noisy", tmp_path / "clean"


def test_paired_folder_matches_by_stem(tmp_path: Path) -> None:
    degraded_dir, clean_dir = _folders(
        tmp_path,
        {"b.png": _rgb8(seed=1), "a.png": _rgb8(seed=2)},
        {"a.tif": _rgb8(seed=3), "b.png": _rgb8(seed=4)},
    )
    (clean_dir / "notes.txt").write_text("not an image")
    folder = PairedFolder(degraded_dir, clean_dir)
    assert folder.names == ["a", "b"] and len(folder) == 2 and folder.sizes == [(20, 30), (20, 30)]
    degraded, clean = folder[0]
    np.testing.assert_array_equal(degraded, _rgb8(seed=2) / np.float32(255))
    np.testing.assert_array_equal(clean, _rgb8(seed=3) / np.float32(255))


def test_paired_folder_unmatched_names(tmp_path: Path) -> None:
    degraded_dir, clean_dir = _folders(
        tmp_path,
        {f"{i}.png": _rgb8(4, 4) for i in range(6)},
        {"0.png": _rgb8(4, 4), "x.png": _rgb8(4, 4)},
    )
    message = rf"do not pair up by file name: only in {re.escape(str(degraded_dir))}: 1, 2, 3 \(\+2 more\); only in "
    with pytest.raises(DataError, match=message + re.escape(f"{clean_dir}: x")):
        PairedFolder(degraded_dir, clean_dir)


def test_paired_folder_size_mismatch(tmp_path: Path) -> None:
    degraded_dir, clean_dir = _folders(tmp_path, {"a.png": _rgb8(20, 30)}, {"a.png": _rgb8(20, 31)})
    expected = f"{degraded_dir / 'a.png'} is 20×30 but {clean_dir / 'a.png'} is 20×31; a pair must have one size"
    with pytest.raises(DataError, match=re.escape(expected)):
        PairedFolder(degraded_dir, clean_dir)


def test_paired_folder_empty_or_missing(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.md").write_text("no images here")
    _, clean_dir = _folders(tmp_path, {}, {"a.png": _rgb8()})
    with pytest.raises(DataError, match=r"empty: no images \(\.png, \.jpg"):
        PairedFolder(tmp_path / "empty", clean_dir)
    with pytest.raises(DataError, match="missing: no such folder"):
        PairedFolder(tmp_path / "missing", clean_dir)


def test_paired_folder_duplicate_stems(tmp_path: Path) -> None:
    degraded_dir, clean_dir = _folders(tmp_path, {"a.png": _rgb8(), "a.tif": _rgb8()}, {"a.png": _rgb8()})
    with pytest.raises(DataError, match="a.png and a.tif share the name 'a'"):
        PairedFolder(degraded_dir, clean_dir)


# ---------------------------------------------------------------------- crops
def test_crop_dataset_is_deterministic(photo: np.ndarray) -> None:
    dataset = CropDataset({"p": photo}, 16, "noise", length=50, seed=7, rotate=True)
    degraded, clean = dataset[3]
    assert degraded.shape == clean.shape == (3, 16, 16) and degraded.dtype == torch.float32
    again = CropDataset({"p": photo}, 16, "noise", length=50, seed=7, rotate=True)
    for i in (0, 3, 49):
        for a, b in zip(dataset[i], again[i]):
            assert torch.equal(a, b)
    other = CropDataset({"p": photo}, 16, "noise", length=50, seed=8, rotate=True)
    assert not torch.equal(other[3][1], clean)
    assert len({dataset[i][1].sum().item() for i in range(20)}) > 15  # crops differ between indices
    with pytest.raises(IndexError):
        dataset[50]


def test_crop_equals_region_of_the_degraded_photo(photo: np.ndarray) -> None:
    """A blurred crop sees the photo around it (the degradation's margin), not a padded crop."""
    blur = MotionBlur(7, 30)
    full = blur(photo, np.random.default_rng(0))
    dataset = CropDataset([photo], 12, blur, length=20, flip=False)
    for i in range(20):
        degraded, clean = dataset[i]
        clean_np = clean.numpy().transpose(1, 2, 0)
        # The photo's random component makes each pixel unique: its top-left pixel locates the crop.
        ((top, left),) = np.argwhere(np.all(photo == clean_np[0, 0], axis=2))
        np.testing.assert_array_equal(clean_np, photo[top : top + 12, left : left + 12])
        np.testing.assert_allclose(
            degraded.numpy().transpose(1, 2, 0), full[top : top + 12, left : left + 12], atol=1e-6
        )


def test_crop_dataset_on_paired_folder(tmp_path: Path) -> None:
    degraded_dir, clean_dir = _folders(tmp_path, {"a.png": _rgb8(seed=1)}, {"a.png": _rgb8(seed=2)})
    folder = PairedFolder(degraded_dir, clean_dir)
    degraded, clean = CropDataset(folder, 8, length=5)[0]
    assert degraded.shape == clean.shape == (3, 8, 8)
    with pytest.raises(DataError, match="already .degraded, clean. pairs; pass degradation=None"):
        CropDataset(folder, 8, "noise")


def test_crop_dataset_errors(photo: np.ndarray) -> None:
    with pytest.raises(DataError, match=r"CropDataset: crop 64×64 is larger than image 'p' \(48×64\)"):
        CropDataset({"p": photo}, 64, "noise")
    with pytest.raises(DataError, match="clean images need a degradation"):
        CropDataset({"p": photo}, 8)
    with pytest.raises(DataError, match="p: expected an H×W×3 float array"):
        CropDataset({"p": photo[..., 0]}, 8, "noise")
    with pytest.raises(DataError, match="no images given"):
        CropDataset({}, 8, "noise")


# ---------------------------------------------------------------------- validation pairs
def test_validation_pairs_are_fixed_and_whole(photo: np.ndarray) -> None:
    first = validation_pairs({"a": photo, "b": photo[:40, :40]}, "noise", seed=1)
    second = validation_pairs({"a": photo, "b": photo[:40, :40]}, "noise", seed=1)
    assert [d.shape for d, _ in first] == [(3, 48, 64), (3, 40, 40)]
    for (d1, c1), (d2, c2) in zip(first, second):
        assert torch.equal(d1, d2) and torch.equal(c1, c2)
    assert not torch.equal(first[0][0], validation_pairs({"a": photo}, "noise", seed=2)[0][0])


def test_validation_pairs_max_side_is_a_centre_crop(photo: np.ndarray) -> None:
    blur = DefocusBlur(2)
    (full, _), (small, small_clean) = (
        validation_pairs([photo], blur)[0],
        validation_pairs([photo], blur, max_side=32)[0],
    )
    assert small.shape == (3, 32, 32)
    torch.testing.assert_close(small_clean, torch.from_numpy(photo[8:40, 16:48].transpose(2, 0, 1).copy()))
    torch.testing.assert_close(small, full[:, 8:40, 16:48], atol=1e-6, rtol=0)


def test_builtin_data_tasks() -> None:
    train, val = builtin_data("deblur_defocus", crop=32, length=10, val_max_side=48, radius=2)
    assert len(train) == 10 and train[0][0].shape == (3, 32, 32)
    assert [d.shape for d, _ in val] == [(3, 48, 48), (3, 48, 48)]
    train, _ = builtin_data(sigma=50, crop=16, length=4, val_max_side=16)
    assert isinstance(train.degradation, GaussianNoise) and train.degradation.sigma == 50
    with pytest.raises(DataError, match=r"unknown task 'denoising' .*did you mean 'denoise'"):
        builtin_data("denoising")
    with pytest.raises(DataError, match=r"degradation 'motion_blur': unknown option 'sigma' \(known: length, angle\)"):
        builtin_data("deblur_motion", sigma=25)
