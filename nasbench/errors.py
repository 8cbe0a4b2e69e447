"""The exception family of nasbench.

Every error a user can cause by bad input is a :class:`NasbenchError`. Its message is one line that names
the file (where there is one), the key and the allowed values, e.g.::

    search_spaces/x.yaml: positions.enc2.0.candidates: unknown block 'nafbn' (known: naf, naf_bn, ...)

The command line prints that line and exits non-zero; the Python API raises the specific subclass.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class NasbenchError(Exception):
    """Base class of every error nasbench raises on bad input."""


class BlockError(NasbenchError):
    """An unknown block, bad block options or a block that breaks the N×C×H×W → N×C×H×W contract."""


class SpaceError(NasbenchError):
    """A malformed search-space definition (YAML or Python)."""


class ArchitectureError(NasbenchError):
    """An architecture that does not fit its search space (wrong length, unknown candidate)."""


class ModelError(NasbenchError):
    """An unknown model name or bad model arguments."""


class ShapeError(NasbenchError):
    """An input whose shape a network cannot take (channels, dimensions)."""


class ExportError(NasbenchError):
    """ONNX export or verification failed."""


def known(values: Iterable[object]) -> str:
    """Format allowed values for an error message: ``(known: a, b, c)``."""
    return "(known: " + ", ".join(str(v) for v in values) + ")"


def suggest(value: str, choices: Iterable[str]) -> str:
    """`` — did you mean 'x'?`` when a close match exists, else an empty string."""
    match = difflib.get_close_matches(value, list(choices), n=1)
    return f"; did you mean '{match[0]}'?" if match else ""
