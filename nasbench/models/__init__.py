"""Hand-written zoo networks that are not the baseline of a search space. Importing this package
registers them with :func:`nasbench.zoo.register_model`."""

from nasbench.models.heavy_denoise import DenoisingBlock, HeavyDenoiseNet, heavy_denoise_net

__all__ = ["DenoisingBlock", "HeavyDenoiseNet", "heavy_denoise_net"]
