"""Tiled restoration: exact blending, equivalence with a whole-image run, bounded batches, errors, files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from nasbench.deploy.tiled import restore_file, restore_image
from nasbench.errors import ShapeError
from nasbench.train.data import read_image


class Recorder(nn.Module):
    """Wraps a network and records the shape of every batch of tiles it sees."""

    def __init__(self, net: nn.Module | None = None) -> None:
        super().__init__()
        self.net = net if net is not None else nn.Identity()
        self.shapes: list[tuple[int, ...]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.shapes.append(tuple(x.shape))
        return self.net(x)


class Half(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 0.5


def _image(height: int = 70, width: int = 53) -> np.ndarray:
    return np.random.default_rng(0).random((height, width, 3), dtype=np.float32)


def _conv_net() -> nn.Module:
    # Two 3×3 convs: receptive-field radius 2 px ≤ overlap/4 for overlap 8.
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 3, 3, padding=1))


def test_identity_reproduces_the_image_exactly() -> None:
    image = _image()
    model = Recorder()
    out = restore_image(model, image, tile=32, overlap=8)
    assert isinstance(out, np.ndarray) and out.shape == image.shape and out.dtype == np.float32
    np.testing.assert_allclose(out, image, atol=1e-6)
    assert len(model.shapes) > 4 and all(shape == (1, 3, 32, 32) for shape in model.shapes)


def test_tensor_in_tensor_out() -> None:
    image = torch.from_numpy(_image().transpose(2, 0, 1).copy())
    out = restore_image(Half(), image, tile=32, overlap=8)
    assert isinstance(out, torch.Tensor) and out.shape == image.shape
    torch.testing.assert_close(out, image * 0.5)


def test_per_pixel_model_blends_to_the_full_image_result() -> None:
    image = _image()
    np.testing.assert_allclose(restore_image(Half(), image, tile=32, overlap=8, batch=3), image * 0.5, atol=1e-6)


def test_conv_model_matches_the_whole_image_run() -> None:
    image = _image()
    net = _conv_net()
    with torch.no_grad():
        full = net(torch.from_numpy(image.transpose(2, 0, 1).copy())[None])[0].numpy().transpose(1, 2, 0)
    tiled = restore_image(net, image, tile=32, overlap=8, batch=2)
    np.testing.assert_allclose(tiled, full, atol=1e-5)


def test_image_smaller_than_a_tile_is_padded_to_the_tile_size() -> None:
    image = _image(10, 20)
    model = Recorder()
    out = restore_image(model, image, tile=32, overlap=8)
    assert model.shapes == [(1, 3, 32, 32)]
    np.testing.assert_allclose(out, image, atol=1e-6)


@pytest.mark.parametrize("batch", [1, 2, 5])
def test_never_more_tiles_at_once_than_batch(batch: int) -> None:
    model = Recorder()
    restore_image(model, _image(), tile=32, overlap=8, batch=batch)
    assert max(shape[0] for shape in model.shapes) <= batch
    assert sum(shape[0] for shape in model.shapes) == 6  # rows at 0, 24, 38 × columns at 0, 21


def test_model_mode_is_restored() -> None:
    net = _conv_net().train()
    restore_image(net, _image(), tile=32, overlap=8)
    assert net.training


@pytest.mark.parametrize(
    ("tile", "overlap", "message"),
    [(16, 8, "tile 16 must exceed 2 × overlap"), (0, 0, "tile must be"), (32, -1, "overlap must be")],
)
def test_bad_tiling(tile: int, overlap: int, message: str) -> None:
    with pytest.raises(ShapeError, match=message):
        restore_image(Half(), _image(), tile=tile, overlap=overlap)


def test_non_rgb_inputs() -> None:
    with pytest.raises(ShapeError, match="3×H×W tensor"):
        restore_image(Half(), torch.rand(1, 8, 8))
    with pytest.raises(Exception, match="grayscale"):
        restore_image(Half(), np.zeros((8, 8), dtype=np.float32))


def test_shape_changing_model_is_refused() -> None:
    with pytest.raises(ShapeError, match="must keep the shape"):
        restore_image(nn.Conv2d(3, 1, 1), _image(), tile=32, overlap=8)


def test_restore_file_writes_an_8_bit_png(tmp_path: Path) -> None:
    source = tmp_path / "in.png"
    pixels = (np.random.default_rng(1).random((40, 37, 3)) * 255).round().astype(np.uint8)
    Image.fromarray(pixels).save(source)
    target = restore_file(Recorder(), source, tmp_path / "out" / "restored.png", tile=16, overlap=4)
    with Image.open(target) as written:
        assert written.mode == "RGB" and written.size == (37, 40)
    np.testing.assert_array_equal((read_image(target) * 255).round().astype(np.uint8), pixels)
    with pytest.raises(ShapeError, match=r"\.png"):
        restore_file(Recorder(), source, tmp_path / "out.jpg")
