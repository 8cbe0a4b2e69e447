"""The errors of :mod:`nasbench.train`, members of the :class:`~nasbench.errors.NasbenchError` family.

Their messages are one line that names the file, image or step concerned, e.g.::

    data/clean/0001.png: grayscale image (480×640); nasbench needs RGB (pass allow_gray=True to convert)
    step 17: loss is nan; last good checkpoint: runs/ft/last.pt
"""

from __future__ import annotations

from nasbench.errors import NasbenchError


class DataError(NasbenchError):
    """Unreadable or unsuitable images, unpaired folders, bad degradation options, crops that do not fit."""


class TrainingError(NasbenchError):
    """A run that cannot go on: a non-finite loss or gradient, a refused or mismatched checkpoint."""


__all__ = ["DataError", "TrainingError"]
