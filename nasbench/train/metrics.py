"""Image-quality metrics: PSNR (dB) and SSIM on whole images, computed with scikit-image.

Images are tensors (or arrays) 3×H×W or N×3×H×W with values in [0, ``data_range``]. The prediction is
clamped to that range first — a network's output is an image only once it is displayable — while the
target is used as given (``psnr_db(..., clamp=False)`` skips the clamp, as for degraded inputs). A batch
gives the mean over its images (PSNR is averaged in dB, per image, as restoration papers report it).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from torch import nn

from nasbench.errors import ShapeError
from nasbench.train.errors import DataError

Images = torch.Tensor | np.ndarray


def psnr_db(pred: Images, target: Images, data_range: float = 1.0, *, clamp: bool = True) -> float:
    """Peak signal-to-noise ratio in dB, ``10·log10(data_range² / MSE)``, per image then averaged.

    ``clamp=False`` measures ``pred`` as it is (used for degraded inputs, whose noise is not clipped).
    Identical images have no error: their PSNR is ``float('inf')`` (not capped), and so is the mean of a
    batch that contains one.
    """
    from skimage import metrics  # imports scipy.stats (≈ 1 s): only when a metric is computed

    values = []
    for p, t in zip(*_batches(pred, target, data_range, "psnr_db", clamp)):
        # skimage divides by a zero MSE with a warning; the answer is defined, so give it directly.
        values.append(
            float("inf") if np.array_equal(p, t) else metrics.peak_signal_noise_ratio(t, p, data_range=data_range)
        )
    return float(np.mean(values))


def ssim(pred: Images, target: Images, data_range: float = 1.0) -> float:
    """Structural similarity (scikit-image defaults: 7×7 uniform window, channels averaged), per image
    then averaged. Both sides of each image must be at least 7 px. BasicSR-style SSIM (11×11 Gaussian
    window) gives slightly different numbers; compare like with like."""
    from skimage import metrics

    values = []
    for p, t in zip(*_batches(pred, target, data_range, "ssim", True)):
        try:
            values.append(metrics.structural_similarity(t, p, channel_axis=0, data_range=data_range))
        except ValueError as exc:  # images smaller than the window
            raise ShapeError(f"ssim: {exc}") from None
    return float(np.mean(values))


def _batches(pred: Images, target: Images, data_range: float, owner: str, clamp: bool) -> tuple[np.ndarray, np.ndarray]:
    """Both as float64 N×C×H×W arrays, the prediction clamped to [0, data_range] if ``clamp``."""
    p, t = (torch.as_tensor(x).detach().cpu().double().numpy() for x in (pred, target))
    if p.shape != t.shape or p.ndim not in (3, 4):
        raise ShapeError(
            f"{owner}: pred {'×'.join(map(str, p.shape))} and target {'×'.join(map(str, t.shape))} must have one "
            "shape, C×H×W or N×C×H×W"
        )
    if p.ndim == 3:
        p, t = p[None], t[None]
    return (np.clip(p, 0.0, data_range) if clamp else p), t


def evaluate(model: nn.Module, pairs: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> dict[str, float]:
    """Mean quality of ``model`` over whole-image (degraded, clean) pairs of 3×H×W tensors.

    Runs in eval mode under ``torch.no_grad``, one image at a time (networks pad odd sizes themselves),
    on the model's device; the model's train/eval mode is restored afterwards. Returns ``psnr_db`` and
    ``ssim`` of the restored images and ``input_psnr_db``, the PSNR of the degraded inputs exactly as the
    network receives them, not clamped (for σ = 25 noise, 20·log10(255/25) ≈ 20.17 dB).
    """
    device = next(model.parameters(), torch.empty(0)).device
    restored_psnr, restored_ssim, input_psnr = [], [], []
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for degraded, clean in pairs:
                restored = model(degraded[None].to(device))[0].cpu()
                restored_psnr.append(psnr_db(restored, clean))
                restored_ssim.append(ssim(restored, clean))
                input_psnr.append(psnr_db(degraded, clean, clamp=False))
    finally:
        model.train(was_training)
    if not restored_psnr:
        raise DataError("evaluate: no validation pairs given")
    return {
        "psnr_db": float(np.mean(restored_psnr)),
        "ssim": float(np.mean(restored_ssim)),
        "input_psnr_db": float(np.mean(input_psnr)),
    }


__all__ = ["evaluate", "psnr_db", "ssim"]
