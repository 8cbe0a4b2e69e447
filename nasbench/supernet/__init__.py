"""Supernets for differentiable search: mixed blocks holding every candidate and α."""

from nasbench.supernet.mixed import MixedBlock, Mode
from nasbench.supernet.supernet import Supernet

__all__ = ["MixedBlock", "Mode", "Supernet"]
