"""Training and validation data for restoration networks.

Image files (PNG, JPEG, TIFF; 8 and 16 bit), synthetic degradations (a registry: ``noise``,
``motion_blur``, ``defocus_blur``), the colour photographs shipped inside scikit-image, folders of real
(degraded, clean) pairs, random training crops and fixed validation pairs.

Conventions: an image is a numpy array H×W×3, float32, values in [0, 1] — except degraded images, which
may leave that range because noise is not clipped by default. Tensors handed to networks are 3×H×W
float32 (N×3×H×W once batched). Sizes are written height×width, in pixels.
"""

from __future__ import annotations

import functools
import inspect
import math
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

import numpy as np
import skimage.data
import tifffile
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import Dataset

from nasbench.errors import known, suggest
from nasbench.registry import Registry
from nasbench.train.errors import DataError

# ---------------------------------------------------------------------- image files
IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
_TIFF_SUFFIXES = (".tif", ".tiff")
# Full-scale value of each integer sample type; floating-point images are taken as already in [0, 1].
_FULL_SCALE: dict[np.dtype, float] = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0, np.dtype(bool): 1.0}
# Pillow decodes 16-bit colour PNGs to 8 bits (it keeps the high byte of each sample). Decoding the same
# stream again with the little-endian raw mode keeps the other byte, after the same PNG unfiltering.
_PNG16_LOW_BYTES = {"RGB;16B": "RGB;16L", "RGBA;16B": "RGBA;16L"}
# Colour models Pillow can convert to RGB (palette, print, other colour spaces).
_PILLOW_TO_RGB = ("P", "PA", "CMYK", "YCbCr", "LAB", "HSV")


def read_image(path: str | Path, *, allow_gray: bool = False) -> np.ndarray:
    """Read a PNG, JPEG or TIFF file as an RGB image: float32, H×W×3, values in [0, 1].

    8-bit samples are divided by 255, 16-bit samples by 65535 (16-bit PNGs keep their full precision);
    floating-point TIFFs are taken as they are. An alpha channel is dropped. A grayscale file raises
    :class:`DataError` unless ``allow_gray=True``, which copies the gray level into all three channels.
    Unreadable or truncated files raise :class:`DataError` naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        array = _read_tiff(path) if path.suffix.lower() in _TIFF_SUFFIXES else _read_pillow(path)
    except DataError:
        raise
    except Exception as exc:  # decoders raise OSError, SyntaxError, ValueError, zlib.error, ... on damaged files
        raise DataError(f"{path}: cannot read image: {_one_line(exc)}") from None
    return to_float_rgb(array, str(path), allow_gray=allow_gray)


def to_float_rgb(array: np.ndarray, name: str = "<array>", *, allow_gray: bool = False) -> np.ndarray:
    """An image array (H×W, H×W×1..4; uint8, uint16, bool or float) as float32 H×W×3 RGB in [0, 1].

    ``name`` is used in error messages (a file name, a photo name). Alpha is dropped; gray is refused
    unless ``allow_gray=True``.
    """
    array = np.asarray(array)
    if array.dtype.byteorder not in "=|":  # big-endian samples (some TIFFs, Pillow's "I;16B")
        array = array.astype(array.dtype.newbyteorder("="))
    if array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (1, 2)):  # gray, gray + alpha
        height, width = array.shape[:2]
        if not allow_gray:
            raise DataError(
                f"{name}: grayscale image ({height}×{width}); nasbench needs RGB (pass allow_gray=True to convert)"
            )
        gray = array if array.ndim == 2 else array[..., 0]
        array = np.repeat(gray[..., None], 3, axis=2)
    elif array.ndim == 3 and array.shape[2] in (3, 4):
        array = array[..., :3]
    else:
        raise DataError(f"{name}: expected an H×W×3 image, got shape {'×'.join(map(str, array.shape))}")
    if np.issubdtype(array.dtype, np.floating):
        return np.ascontiguousarray(array, dtype=np.float32)
    if array.dtype not in _FULL_SCALE:
        raise DataError(f"{name}: unsupported sample type {array.dtype} (known: uint8, uint16, bool, float)")
    return np.ascontiguousarray(array, dtype=np.float32) / np.float32(_FULL_SCALE[array.dtype])


def _read_pillow(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        rawmode = _rawmode(image)
        if image.format == "PNG" and rawmode in _PNG16_LOW_BYTES:
            high = np.asarray(image).astype(np.uint16)
            with Image.open(path) as again:
                tile = again.tile[0]
                args = tile.args
                low_mode = _PNG16_LOW_BYTES[rawmode]
                again.tile = [tile._replace(args=low_mode if isinstance(args, str) else (low_mode, *args[1:]))]
                low = np.asarray(again).astype(np.uint16)
            return (high << 8) | low
        if image.mode in _PILLOW_TO_RGB:
            return np.asarray(image.convert("RGB"))
        # 16-bit gray arrives as "I;16" at full precision; 16-bit gray + alpha at 8 bits (Pillow has no mode
        # for it), which only matters with allow_gray=True.
        return np.asarray(image)


def _rawmode(image: Image.Image) -> str | None:
    if not image.tile:
        return None
    args = image.tile[0].args
    return args if isinstance(args, str) else (args[0] if args else None)


def _read_tiff(path: Path) -> np.ndarray:
    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        axes, array = series.axes, series.asarray()
    # Y rows, X columns, S samples (channels); any other axis longer than 1 means several images.
    extra = {axis: size for axis, size in zip(axes, array.shape) if axis not in "YXS"}
    if any(size > 1 for size in extra.values()):
        raise DataError(
            f"{path}: holds several images (axes {axes}, shape {'×'.join(map(str, array.shape))}); "
            "nasbench reads one image per file"
        )
    array = array.reshape([size for axis, size in zip(axes, array.shape) if axis in "YXS"])
    kept = [axis for axis in axes if axis in "YXS"]
    return np.moveaxis(array, kept.index("S"), -1) if "S" in kept else array


def _image_size(path: Path) -> tuple[int, int]:
    """Height and width from the file header, without decoding the pixels."""
    try:
        if path.suffix.lower() in _TIFF_SUFFIXES:
            with tifffile.TiffFile(path) as tif:
                series = tif.series[0]
                shape = dict(zip(series.axes, series.shape))
                return shape["Y"], shape["X"]
        with Image.open(path) as image:
            return image.height, image.width
    except Exception as exc:  # as in read_image: decoders raise many types on damaged headers
        raise DataError(f"{path}: cannot read image: {_one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# ---------------------------------------------------------------------- degradations
class Degradation(Protocol):
    """A synthetic degradation: ``(image H×W×3 float32, rng) -> degraded image`` of the same shape.

    All randomness comes from ``rng`` (a ``numpy.random.Generator``), so a seed reproduces it. An optional
    ``margin`` attribute (px) says how far beyond a pixel the degradation reads (a blur's kernel radius):
    crops are degraded with that much context, so a crop equals the same region of the degraded photo.
    """

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray: ...


FactoryT = TypeVar("FactoryT", bound=Callable[..., Degradation])
_DEGRADATIONS: Registry[Callable[..., Degradation]] = Registry("degradation", DataError)


def register_degradation(name: str) -> Callable[[FactoryT], FactoryT]:
    """Decorator: register a factory ``(**options) -> Degradation`` (a class or a function) as ``name``."""
    return _DEGRADATIONS.register(name)


def list_degradations() -> list[str]:
    return _DEGRADATIONS.names()


def create_degradation(name: str, **options: Any) -> Degradation:
    """The registered degradation ``name`` with ``options`` (e.g. ``create_degradation("noise", sigma=50)``)."""
    factory = _DEGRADATIONS.get(name)
    parameters = inspect.signature(factory).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        for key in options:
            if key not in parameters:
                raise DataError(
                    f"degradation {name!r}: unknown option {key!r} {known(parameters)}{suggest(key, parameters)}"
                )
    return factory(**options)


@register_degradation("noise")
@dataclass(frozen=True)
class GaussianNoise:
    """Additive white Gaussian noise, independent per pixel and channel, of standard deviation ``sigma``
    on the 0–255 scale: σ = 25 adds N(0, (25/255)²) to a [0, 1] image. Any σ > 0 works; the common
    benchmark levels are 15, 25 and 50.

    Not clipped by default (``clip=False``): clipping would bias the noise near black and white and make
    the effective σ depend on the image, so a network would learn a different problem per photo.
    """

    sigma: float = 25.0
    clip: bool = False
    margin: ClassVar[int] = 0

    def __post_init__(self) -> None:
        if not (isinstance(self.sigma, int | float) and math.isfinite(self.sigma) and self.sigma > 0):
            raise DataError(f"degradation 'noise': sigma must be a number > 0 (0–255 scale), got {self.sigma!r}")

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        noise = rng.standard_normal(image.shape, dtype=np.float32) * np.float32(self.sigma / 255.0)
        noisy = image + noise
        return np.clip(noisy, 0.0, 1.0) if self.clip else noisy


@register_degradation("motion_blur")
@dataclass(frozen=True)
class MotionBlur:
    """Linear camera-motion blur: a line ``length`` px long at ``angle`` degrees (counter-clockwise from
    horizontal; ``None``, the default, draws a uniform angle in [0°, 180°) from the rng per image).
    Keeps the image size (reflect padding at the borders). The 9 px default is our choice.
    """

    length: float = 9.0
    angle: float | None = None

    def __post_init__(self) -> None:
        motion_kernel(self.length, 0.0 if self.angle is None else self.angle)

    @property
    def margin(self) -> int:
        return motion_kernel(self.length, 0.0).shape[0] // 2

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        angle = rng.uniform(0.0, 180.0) if self.angle is None else self.angle
        return convolve(image, motion_kernel(self.length, angle))


@register_degradation("defocus_blur")
@dataclass(frozen=True)
class DefocusBlur:
    """Out-of-focus blur: a uniform disk (pillbox) of ``radius`` px. Keeps the image size (reflect padding).
    The 3 px default is our choice."""

    radius: float = 3.0

    def __post_init__(self) -> None:
        disk_kernel(self.radius)

    @property
    def margin(self) -> int:
        return disk_kernel(self.radius).shape[0] // 2

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return convolve(image, disk_kernel(self.radius))


def motion_kernel(length: float, angle: float) -> np.ndarray:
    """A linear motion-blur kernel: a segment ``length`` px long through the centre at ``angle`` degrees
    (counter-clockwise from horizontal); each pixel weighs the length of the segment inside it, so a
    horizontal 9 px motion is nine weights of 1/9. Square, odd side, float32, point-symmetric, sums to 1;
    ``length`` 1 is the identity."""
    if not (isinstance(length, int | float) and math.isfinite(length) and length >= 1):
        raise DataError(f"degradation 'motion_blur': length must be a number ≥ 1 (px), got {length!r}")
    if not (isinstance(angle, int | float) and math.isfinite(angle)):
        raise DataError(f"degradation 'motion_blur': angle must be a number (degrees) or None, got {angle!r}")
    radius = math.ceil(length / 2 - 0.5)
    # 16 samples per pixel of length, at the centres of equal pieces of the segment, each counted in the
    # pixel that contains it.
    samples = 16 * math.ceil(length)
    t = (np.arange(samples) + 0.5) * (length / samples) - length / 2
    theta = math.radians(angle)
    cols = np.floor(radius + t * math.cos(theta) + 0.5).astype(int)
    rows = np.floor(radius - t * math.sin(theta) + 0.5).astype(int)  # image rows grow downwards
    kernel = np.zeros((2 * radius + 1, 2 * radius + 1))
    np.add.at(kernel, (rows, cols), 1.0)
    # Samples exactly between two pixels round one way; averaging with the 180° turn keeps the kernel
    # point-symmetric, so filtering with it is a true convolution.
    kernel = kernel + kernel[::-1, ::-1]
    return (kernel / kernel.sum()).astype(np.float32)


def disk_kernel(radius: float) -> np.ndarray:
    """A defocus kernel: the disk of ``radius`` px, each pixel weighted by the share of it inside the disk
    (estimated on an 8×8 sub-pixel grid). Square, odd side, float32, sums to 1; radius 0 is the identity."""
    if not (isinstance(radius, int | float) and math.isfinite(radius) and radius >= 0):
        raise DataError(f"degradation 'defocus_blur': radius must be a number ≥ 0 (px), got {radius!r}")
    half = math.ceil(radius)
    size = 2 * half + 1
    offsets = (np.arange(8) + 0.5) / 8 - 0.5
    coords = (np.arange(-half, half + 1)[:, None] + offsets[None, :]).ravel()
    inside = coords[:, None] ** 2 + coords[None, :] ** 2 <= radius**2
    coverage = inside.reshape(size, 8, size, 8).mean(axis=(1, 3))
    if coverage.sum() == 0:  # a radius below the sub-pixel grid's resolution
        coverage[half, half] = 1.0
    return (coverage / coverage.sum()).astype(np.float32)


def convolve(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``image`` (H×W×C float32) filtered with ``kernel`` (k×k, k odd), reflect-padded: same size out.

    This is a correlation; it equals a convolution for the point-symmetric kernels built here.
    """
    pad = kernel.shape[0] // 2
    height, width = image.shape[:2]
    if pad >= min(height, width):
        raise DataError(
            f"blur kernel {kernel.shape[0]}×{kernel.shape[1]} is too large for a {height}×{width} image "
            f"(reflect padding needs both sides > {pad} px)"
        )
    channels = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32))[:, None]
    padded = F.pad(channels, (pad, pad, pad, pad), mode="reflect")
    out = F.conv2d(padded, torch.from_numpy(np.ascontiguousarray(kernel, dtype=np.float32))[None, None])
    return np.ascontiguousarray(out[:, 0].numpy().transpose(1, 2, 0))


# ---------------------------------------------------------------------- built-in photographs
BUILTIN_PHOTOS: tuple[str, ...] = (
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "logo",
)
# Two everyday photos (a cat, a coffee cup) with texture and smooth regions; the other six train.
VALIDATION_PHOTOS: tuple[str, ...] = ("chelsea", "coffee")
_SPLITS: dict[str, tuple[str, ...]] = {
    "train": tuple(p for p in BUILTIN_PHOTOS if p not in VALIDATION_PHOTOS),
    "val": VALIDATION_PHOTOS,
    "all": BUILTIN_PHOTOS,
}


@functools.cache
def _builtin_photo(name: str) -> np.ndarray:
    image = to_float_rgb(getattr(skimage.data, name)(), f"skimage.data.{name}")
    image.setflags(write=False)  # one cached copy is shared by every caller
    return image


def builtin_images(split: str = "all") -> dict[str, np.ndarray]:
    """The colour photographs shipped inside scikit-image (no download), as float32 H×W×3 in [0, 1].

    ``split``: ``"val"`` — chelsea and coffee; ``"train"`` — astronaut, rocket, hubble_deep_field,
    immunohistochemistry, retina, logo (its alpha channel, fully opaque, is dropped); ``"all"`` — the
    eight. Returns name → image, in that order. The arrays are read-only (cached and shared).
    """
    if split not in _SPLITS:
        raise DataError(f"builtin_images: unknown split {split!r} {known(_SPLITS)}{suggest(split, _SPLITS)}")
    return {name: _builtin_photo(name) for name in _SPLITS[split]}


# ---------------------------------------------------------------------- paired folders
class PairedFolder:
    """Real data: a folder of degraded images and a folder of clean ones, paired by file name stem::

        data/train/noisy/0001.png    data/train/clean/0001.png
        data/train/noisy/0002.png    data/train/clean/0002.png

    Suffixes may differ within a pair (``0001.png`` ↔ ``0001.tif``); formats as :func:`read_image`.
    Opening checks the pairing and each pair's size from the file headers; pixels are read when a pair
    is indexed: ``folder[i] -> (degraded, clean)``, float32 H×W×3 arrays.
    """

    def __init__(self, degraded_dir: str | Path, clean_dir: str | Path, *, allow_gray: bool = False) -> None:
        self.degraded_dir, self.clean_dir = Path(degraded_dir), Path(clean_dir)
        self.allow_gray = allow_gray
        degraded, clean = _images_in(self.degraded_dir), _images_in(self.clean_dir)
        only_degraded, only_clean = sorted(set(degraded) - set(clean)), sorted(set(clean) - set(degraded))
        if only_degraded or only_clean:
            parts = [
                f"only in {folder}: {_few(names)}"
                for folder, names in ((self.degraded_dir, only_degraded), (self.clean_dir, only_clean))
                if names
            ]
            raise DataError(f"{self.degraded_dir} and {self.clean_dir} do not pair up by file name: {'; '.join(parts)}")
        self.names: list[str] = sorted(degraded)
        self.degraded_paths: list[Path] = [degraded[n] for n in self.names]
        self.clean_paths: list[Path] = [clean[n] for n in self.names]
        self.sizes: list[tuple[int, int]] = []
        for degraded_path, clean_path in zip(self.degraded_paths, self.clean_paths):
            degraded_size, clean_size = _image_size(degraded_path), _image_size(clean_path)
            if degraded_size != clean_size:
                raise DataError(
                    f"{degraded_path} is {_hw(degraded_size)} but {clean_path} is {_hw(clean_size)}; "
                    "a pair must have one size"
                )
            self.sizes.append(clean_size)

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        degraded = read_image(self.degraded_paths[index], allow_gray=self.allow_gray)
        clean = read_image(self.clean_paths[index], allow_gray=self.allow_gray)
        if degraded.shape != clean.shape:  # headers said otherwise: a file changed since opening
            raise DataError(
                f"{self.degraded_paths[index]} is {_hw(degraded.shape)} but {self.clean_paths[index]} is "
                f"{_hw(clean.shape)}; a pair must have one size"
            )
        return degraded, clean

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        return f"PairedFolder({str(self.degraded_dir)!r}, {str(self.clean_dir)!r}, pairs={len(self)})"


def _images_in(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder")
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
            continue
        if path.stem in found:
            raise DataError(
                f"{folder}: {found[path.stem].name} and {path.name} share the name {path.stem!r}; "
                "pairs are matched by name, so names must be unique"
            )
        found[path.stem] = path
    if not found:
        raise DataError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)})")
    return found


def _few(names: Sequence[str], shown: int = 3) -> str:
    more = f" (+{len(names) - shown} more)" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _hw(shape: Sequence[int]) -> str:
    return f"{shape[0]}×{shape[1]}"


# ---------------------------------------------------------------------- crops and validation pairs
ImageData = Mapping[str, np.ndarray] | Sequence[np.ndarray] | Sequence[tuple[np.ndarray, np.ndarray]] | PairedFolder


@dataclass(frozen=True)
class _Source:
    """Images to cut from: clean ones (degraded on the fly) or (degraded, clean) pairs."""

    names: list[str]
    sizes: list[tuple[int, int]]
    paired: bool
    load: Callable[[int], tuple[np.ndarray | None, np.ndarray]]


def _source(data: ImageData, owner: str) -> _Source:
    if isinstance(data, PairedFolder):
        return _Source(data.names, data.sizes, True, data.__getitem__)
    if isinstance(data, Mapping):
        items = [(str(name), image) for name, image in data.items()]
    else:
        items = [(f"{owner} item {i}", item) for i, item in enumerate(data)]
    if not items:
        raise DataError(f"{owner}: no images given")
    if all(isinstance(item, tuple | list) and len(item) == 2 for _, item in items):
        pairs = [(_array(d, f"{name} (degraded)"), _array(c, f"{name} (clean)")) for name, (d, c) in items]
        for (name, _), (degraded, clean) in zip(items, pairs):
            if degraded.shape != clean.shape:
                raise DataError(f"{owner}: pair {name!r} has sizes {_hw(degraded.shape)} and {_hw(clean.shape)}")
        return _Source([n for n, _ in items], [c.shape[:2] for _, c in pairs], True, pairs.__getitem__)
    images = [_array(image, name) for name, image in items]
    return _Source([n for n, _ in items], [im.shape[:2] for im in images], False, lambda i: (None, images[i]))


def _array(image: object, name: str) -> np.ndarray:
    if not (isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3):
        shape = "×".join(map(str, image.shape)) if isinstance(image, np.ndarray) else type(image).__name__
        raise DataError(f"{name}: expected an H×W×3 float array in [0, 1] (see read_image), got {shape}")
    return image.astype(np.float32, copy=False)


def _degradation(degradation: Degradation | str | None, source: _Source, owner: str) -> Degradation | None:
    if source.paired:
        if degradation is not None:
            raise DataError(f"{owner}: the data are already (degraded, clean) pairs; pass degradation=None")
        return None
    if degradation is None:
        raise DataError(f"{owner}: clean images need a degradation {known(list_degradations())}")
    return create_degradation(degradation) if isinstance(degradation, str) else degradation


def _cut(
    source: _Source,
    index: int,
    box: tuple[int, int, int, int],
    degradation: Degradation | None,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """The (degraded, clean) region ``box`` = (top, left, height, width) of image ``index``."""
    top, left, height, width = box
    degraded, clean = source.load(index)
    if degraded is not None:
        return degraded[top : top + height, left : left + width], clean[top : top + height, left : left + width]
    assert degradation is not None  # _degradation guarantees one for clean images
    # Degrade the region plus the degradation's margin, so blur near the crop's edge sees the real
    # neighbourhood (and reflect padding only at the photo's own borders).
    margin = getattr(degradation, "margin", 0)
    img_height, img_width = clean.shape[:2]
    y0, x0 = max(0, top - margin), max(0, left - margin)
    y1, x1 = min(img_height, top + height + margin), min(img_width, left + width + margin)
    window = clean[y0:y1, x0:x1]
    out = np.asarray(degradation(window, rng), dtype=np.float32)
    if out.shape != window.shape:
        raise DataError(f"degradation {degradation!r} changed the image shape {window.shape} to {out.shape}")
    dy, dx = top - y0, left - x0
    return out[dy : dy + height, dx : dx + width], clean[top : top + height, left : left + width]


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32))


class CropDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Random training crops: ``dataset[i] -> (degraded, clean)``, float32 tensors 3×crop×crop.

    ``data`` is either clean images (a name → image mapping such as :func:`builtin_images`, or a list),
    degraded on the fly by ``degradation`` (a registered name or a :class:`Degradation`), or real pairs
    (a :class:`PairedFolder` or a list of (degraded, clean) arrays) with ``degradation=None``.

    Sample ``i`` picks an image uniformly (each image equally often, whatever its size), a crop position
    uniformly, the degradation's randomness, a horizontal and a vertical flip each with probability ½
    (``flip``) and, with ``rotate=True``, a multiple of 90° — all from an rng seeded by ``(seed, i)``, so
    ``dataset[i]`` is the same crop every time and an epoch is reproducible. ``length`` is the number of
    distinct crops per epoch (default 10,000; make it at least steps × batch size to never repeat one).
    """

    def __init__(
        self,
        data: ImageData,
        crop: int,
        degradation: Degradation | str | None = None,
        *,
        length: int = 10_000,
        seed: int = 0,
        flip: bool = True,
        rotate: bool = False,
    ) -> None:
        if not (isinstance(crop, int) and crop >= 1):
            raise DataError(f"CropDataset: crop must be a positive integer (px), got {crop!r}")
        if not (isinstance(length, int) and length >= 1):
            raise DataError(f"CropDataset: length must be a positive integer, got {length!r}")
        self._source = _source(data, "CropDataset")
        self.degradation = _degradation(degradation, self._source, "CropDataset")
        for name, (height, width) in zip(self._source.names, self._source.sizes):
            if crop > height or crop > width:
                raise DataError(f"CropDataset: crop {crop}×{crop} is larger than image {name!r} ({height}×{width})")
        self.crop, self.length, self.seed, self.flip, self.rotate = crop, length, seed, flip, rotate

    @property
    def names(self) -> list[str]:
        return list(self._source.names)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= index < self.length:
            raise IndexError(f"CropDataset: index {index} out of range 0..{self.length - 1}")
        rng = np.random.default_rng([self.seed, index])
        image = int(rng.integers(len(self._source.names)))
        height, width = self._source.sizes[image]
        top, left = int(rng.integers(height - self.crop + 1)), int(rng.integers(width - self.crop + 1))
        degraded, clean = _cut(self._source, image, (top, left, self.crop, self.crop), self.degradation, rng)
        if self.flip:
            if rng.random() < 0.5:
                degraded, clean = degraded[:, ::-1], clean[:, ::-1]
            if rng.random() < 0.5:
                degraded, clean = degraded[::-1], clean[::-1]
        if self.rotate:
            turns = int(rng.integers(4))
            degraded, clean = np.rot90(degraded, turns), np.rot90(clean, turns)
        return _tensor(degraded), _tensor(clean)


def validation_pairs(
    data: ImageData,
    degradation: Degradation | str | None = None,
    *,
    seed: int = 0,
    max_side: int | None = None,
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Whole images for validation: a list of (degraded, clean) float32 tensors 3×H×W.

    Clean images get a fixed degradation each, seeded by ``seed`` and the image's name, so every call
    (and every run) sees the same degraded images. ``max_side`` (px) keeps only the central
    ``max_side``×``max_side`` region of larger images — a centre crop, not a resize, so pixel statistics
    (noise level, blur size in px) stay those of the full photo; it is for speed, ``None`` keeps all.
    """
    if max_side is not None and not (isinstance(max_side, int) and max_side >= 1):
        raise DataError(f"validation_pairs: max_side must be a positive integer (px) or None, got {max_side!r}")
    source = _source(data, "validation_pairs")
    chosen = _degradation(degradation, source, "validation_pairs")
    pairs = []
    for index, (name, (height, width)) in enumerate(zip(source.names, source.sizes)):
        out_height, out_width = (height, width) if max_side is None else (min(height, max_side), min(width, max_side))
        box = ((height - out_height) // 2, (width - out_width) // 2, out_height, out_width)
        rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        degraded, clean = _cut(source, index, box, chosen, rng)
        pairs.append((_tensor(degraded), _tensor(clean)))
    return pairs


# Task → the degradation that makes its inputs.
_TASKS: dict[str, str] = {"denoise": "noise", "deblur_motion": "motion_blur", "deblur_defocus": "defocus_blur"}


def builtin_data(
    task: str = "denoise",
    sigma: float | None = None,
    crop: int = 64,
    *,
    length: int = 10_000,
    seed: int = 0,
    val_max_side: int | None = None,
    rotate: bool = False,
    **options: Any,
) -> tuple[CropDataset, list[tuple[torch.Tensor, torch.Tensor]]]:
    """Training crops from the six ``train`` photos and validation pairs from the two ``val`` photos
    (:func:`builtin_images`), both degraded for ``task``.

    Tasks: ``denoise`` (``noise``; ``sigma`` on the 0–255 scale, default 25), ``deblur_motion``
    (``motion_blur``: ``length``, ``angle``), ``deblur_defocus`` (``defocus_blur``: ``radius``). ``options``
    go to the degradation; ``sigma`` is a shorthand for ``options["sigma"]``. ``crop``, ``length``, ``seed``
    and ``rotate`` as in :class:`CropDataset`; ``val_max_side`` as ``max_side`` in :func:`validation_pairs`.
    """
    if task not in _TASKS:
        raise DataError(f"builtin_data: unknown task {task!r} {known(_TASKS)}{suggest(task, _TASKS)}")
    if sigma is not None:
        options["sigma"] = sigma
    degradation = create_degradation(_TASKS[task], **options)
    train = CropDataset(builtin_images("train"), crop, degradation, length=length, seed=seed, rotate=rotate)
    val = validation_pairs(builtin_images("val"), degradation, seed=seed, max_side=val_max_side)
    return train, val


__all__ = [
    "BUILTIN_PHOTOS",
    "IMAGE_SUFFIXES",
    "VALIDATION_PHOTOS",
    "CropDataset",
    "Degradation",
    "DefocusBlur",
    "GaussianNoise",
    "ImageData",
    "MotionBlur",
    "PairedFolder",
    "builtin_data",
    "builtin_images",
    "convolve",
    "create_degradation",
    "disk_kernel",
    "list_degradations",
    "motion_kernel",
    "read_image",
    "register_degradation",
    "to_float_rgb",
    "validation_pairs",
]
