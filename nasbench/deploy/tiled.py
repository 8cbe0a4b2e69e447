"""Restoring images of any size with a network trained on crops: overlapping tiles, blended seamlessly.

Every tile has the same size (``tile``×``tile`` px, or the image's size when that is smaller), which is
what fixed-shape NPU and ONNX deployments need. Neighbouring tiles overlap by ``overlap`` px (the last
tile of a row or column is aligned to the image's edge, so it may overlap more). Inside an overlap each
tile's weight is 0 over the quarter nearest its own edge — where the network lacks context and its
padding shows — then rises along a raised-cosine ramp over the middle half to 1; at the image's own
borders a tile keeps weight 1. Weights are normalised by their sum, so they add up to 1 at every pixel.

Consequences: an identity or per-pixel network is reproduced exactly; a convolutional network whose
receptive-field radius is at most ⌊``overlap``/4⌋ px gives the same result as on the whole image (up to
float rounding), borders included, because the image's borders are never padded by the tiler. Images
smaller than a tile are reflect-padded (bottom and right) up to the tile size and cropped back.

Memory: the input, one output accumulator and one weight map of the image's size, plus one batch of
``batch`` tiles — never more tiles at once.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from nasbench.errors import ShapeError
from nasbench.train.checkpoint import atomic_write
from nasbench.train.data import read_image, to_float_rgb


def restore_image(
    model: nn.Module,
    image: np.ndarray | torch.Tensor,
    tile: int = 256,
    overlap: int = 32,
    batch: int = 1,
) -> np.ndarray | torch.Tensor:
    """Run ``model`` (N×3×h×w → N×3×h×w) over ``image`` tile by tile and blend the tiles.

    ``image``: a numpy array H×W×3 (uint8/uint16 scaled to [0, 1] as by
    :func:`~nasbench.train.data.to_float_rgb`, float taken as is) or a tensor 3×H×W. Returns the restored
    image in the same layout: float32 numpy H×W×3, or a float32 CPU tensor 3×H×W. Values are the
    network's, not clipped. ``tile`` and ``overlap`` are in px, ``tile`` > 2·``overlap``; ``batch`` tiles
    go through the network at once. The model runs in eval mode under ``no_grad`` on its own device and
    is returned to its previous mode.
    """
    _check_tiling(tile, overlap, batch)
    as_numpy = not isinstance(image, torch.Tensor)
    if as_numpy:
        pixels = torch.from_numpy(to_float_rgb(np.asarray(image)).transpose(2, 0, 1).copy())
    else:
        if image.ndim != 3 or image.shape[0] != 3:
            raise ShapeError(f"restore_image: expected a 3×H×W tensor, got {'×'.join(map(str, image.shape))}")
        pixels = image.detach().to("cpu", torch.float32)
    height, width = pixels.shape[-2:]
    # Every tile has the full tile size, even on an image smaller than a tile: a fixed-shape (exported)
    # network could not take a smaller one.
    pad_h, pad_w = max(height, tile), max(width, tile)
    padded = _reflect_pad(pixels, pad_h, pad_w) if (pad_h, pad_w) != (height, width) else pixels

    out = torch.zeros(3, pad_h, pad_w)
    weight_sum = torch.zeros(1, pad_h, pad_w)
    rows, cols = _starts(pad_h, tile, overlap), _starts(pad_w, tile, overlap)
    boxes = [(top, left) for top in rows for left in cols]
    device = next(model.parameters(), torch.empty(0)).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for first in range(0, len(boxes), batch):
                chunk = boxes[first : first + batch]
                tiles = torch.stack([padded[:, t : t + tile, l : l + tile] for t, l in chunk]).to(device)
                restored = model(tiles)
                if restored.shape != tiles.shape:
                    raise ShapeError(
                        f"restore_image: the model turned tiles of {'×'.join(map(str, tiles.shape))} into "
                        f"{'×'.join(map(str, restored.shape))}; it must keep the shape"
                    )
                restored = restored.to("cpu", torch.float32)
                for (top, left), result in zip(chunk, restored):
                    window = _window(top, tile, pad_h, overlap)[:, None] * _window(left, tile, pad_w, overlap)
                    out[:, top : top + tile, left : left + tile] += result * window
                    weight_sum[:, top : top + tile, left : left + tile] += window
    finally:
        model.train(was_training)
    out = (out / weight_sum)[:, :height, :width]
    return np.ascontiguousarray(out.numpy().transpose(1, 2, 0)) if as_numpy else out


def restore_file(
    model: nn.Module,
    in_path: str | Path,
    out_path: str | Path,
    tile: int = 256,
    overlap: int = 32,
    batch: int = 1,
) -> Path:
    """Restore the image file ``in_path`` (PNG, JPEG, TIFF; see :func:`~nasbench.train.data.read_image`)
    with :func:`restore_image` and write ``out_path`` as an 8-bit RGB PNG (values clipped to [0, 1],
    rounded to 0–255), atomically: an interrupted run leaves no partial file. Returns ``out_path``."""
    out_path = Path(out_path)
    if out_path.suffix.lower() != ".png":
        raise ShapeError(f"{out_path}: restore_file writes PNG; give the output a .png name")
    restored = restore_image(model, read_image(in_path), tile=tile, overlap=overlap, batch=batch)
    assert isinstance(restored, np.ndarray)  # a numpy image in gives a numpy image out
    eight_bit = np.round(np.clip(restored, 0.0, 1.0) * 255.0).astype(np.uint8)
    return atomic_write(out_path, lambda f: Image.fromarray(eight_bit, mode="RGB").save(f, format="PNG"))


def _check_tiling(tile: int, overlap: int, batch: int) -> None:
    for name, value, minimum in (("tile", tile, 1), ("overlap", overlap, 0), ("batch", batch, 1)):
        if not (isinstance(value, int) and value >= minimum):
            raise ShapeError(f"restore_image: {name} must be an integer ≥ {minimum}, got {value!r}")
    if tile <= 2 * overlap:
        raise ShapeError(
            f"restore_image: tile {tile} must exceed 2 × overlap ({2 * overlap}) so that a tile's two "
            "blending ramps do not meet"
        )


def _starts(size: int, tile: int, overlap: int) -> list[int]:
    """Tile offsets along an axis of ``size`` px: every ``tile − overlap`` px, the last one flush with
    the end."""
    if size <= tile:
        return [0]
    stride = tile - overlap
    count = math.ceil((size - tile) / stride) + 1
    return [min(i * stride, size - tile) for i in range(count)]


def _window(start: int, tile: int, size: int, overlap: int) -> torch.Tensor:
    """The 1-D blending weight of a tile at ``start``: a ramp at each edge that lies inside the image
    (zero over the outer quarter of the overlap, raised cosine over the middle half), 1 elsewhere."""
    weights = torch.ones(tile)
    if overlap == 0:
        return weights
    dead = overlap // 4
    ramp_length = overlap - 2 * dead
    ramp = 0.5 - 0.5 * torch.cos(math.pi * (torch.arange(ramp_length) + 0.5) / ramp_length)
    rising = torch.cat([torch.zeros(dead), ramp, torch.ones(overlap - dead - ramp_length)])
    if start > 0:
        weights[:overlap] = rising
    if start + tile < size:
        weights[-overlap:] = rising.flip(0)
    return weights


def _reflect_pad(pixels: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``pixels`` (3×h×w) extended at the bottom and right to ``height``×``width`` by mirror reflection
    (repeated as often as needed, so any amount of padding works; a 1-px axis is replicated)."""
    rows = torch.from_numpy(_reflect_index(pixels.shape[1], height))
    cols = torch.from_numpy(_reflect_index(pixels.shape[2], width))
    return pixels[:, rows][:, :, cols]


def _reflect_index(n: int, size: int) -> np.ndarray:
    if n == 1:
        return np.zeros(size, dtype=np.int64)
    period = 2 * (n - 1)
    index = np.arange(size) % period
    return np.where(index < n, index, period - index).astype(np.int64)


__all__ = ["restore_file", "restore_image"]
