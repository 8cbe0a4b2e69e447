"""``LatencyTable``: per-device latencies of blocks at given shapes, and of backbone skeletons.

A network's latency is predicted as the latency of its *skeleton* — the backbone with every block
replaced by the identity (stem, samplers, skips, head, padding) — plus the latency of each chosen block at
its position's shape. Blocks with the same signature (block, options, channels, height, width) share one
entry wherever they occur, in any space. A table may also carry a correction fitted on end-to-end
measurements (:mod:`nasbench.latency.correction`), which ``predict`` adds to that plain sum.

The file format (YAML; one JSON-style line per entry so tables diff line by line) is documented in
``docs/latency.md``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from nasbench.errors import NasbenchError
from nasbench.space import Architecture, SearchSpace
from nasbench.space.position import freeze

if TYPE_CHECKING:
    from nasbench.latency.correction import Correction

SCHEMA_VERSION = 1
FORMAT = "nasbench-latency-table"
_METADATA_KEYS = (
    "device",
    "runtime",
    "execution_provider",
    "threads",
    "graph_optimization",
    "dtype",
    "batch",
    "opset",
    "date",
    "protocol",
    "source",
    "notes",
)


class LatencyTableError(NasbenchError):
    """A malformed, incompatible or incomplete latency table."""


def _options_key(options: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> tuple[tuple[str, Any], ...]:
    items = options.items() if isinstance(options, Mapping) else options
    return tuple(sorted((k, freeze(v)) for k, v in items))


@dataclass(frozen=True)
class BlockKey:
    """What a block's latency depends on."""

    block: str
    options: tuple[tuple[str, Any], ...]
    channels: int
    height: int
    width: int

    def __str__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options)
        return f"{self.block}({opts}) at {self.channels}×{self.height}×{self.width}"


@dataclass(frozen=True)
class SkeletonKey:
    """A backbone configuration (every block the identity) at an input size."""

    backbone: str
    config: tuple[tuple[str, Any], ...]
    height: int
    width: int

    def __str__(self) -> str:
        return f"skeleton of {self.backbone}({dict(self.config)}) at {self.height}×{self.width}"


@dataclass(frozen=True)
class Entry:
    """One measured (or imported) latency, in milliseconds."""

    median_ms: float
    p10_ms: float
    p90_ms: float
    runs: int
    source: str = "measured"


@dataclass(frozen=True)
class MissingEntry:
    """An entry ``predict`` would need that the table lacks."""

    position: str
    candidate: str
    key: BlockKey | SkeletonKey

    def __str__(self) -> str:
        where = f"position {self.position} candidate {self.candidate}: " if self.position else ""
        return f"{where}{self.key}"


def padded_size(space: SearchSpace, height: int, width: int) -> tuple[int, int]:
    """The input size after the backbone's padding to a multiple of 2^levels."""
    m = space.pad_multiple
    return math.ceil(height / m) * m, math.ceil(width / m) * m


def block_key(space: SearchSpace, position: str, label: str, height: int, width: int) -> BlockKey:
    """The table key of candidate ``label`` at ``position`` for an input of height × width."""
    p = space.position(position)
    c = p.candidate(label)
    ph, pw = padded_size(space, height, width)
    return BlockKey(c.block, _options_key(c.options), p.channels, ph // p.resolution, pw // p.resolution)


def skeleton_key(space: SearchSpace, height: int, width: int) -> SkeletonKey:
    config = {k: v for k, v in asdict(space.backbone_config).items()}
    return SkeletonKey(space.backbone_type, _options_key(config), height, width)


@dataclass
class LatencyTable:
    """Block and skeleton latencies for one device and runtime configuration.

    ``metadata`` records the device, runtime and version, execution provider, threads, dtype, batch,
    opset, date, protocol and source; ``input_size`` is the default (H, W) for :meth:`predict`.
    ``correction`` (optional) is the residual model fitted by :func:`nasbench.latency.correction.calibrate`.
    """

    metadata: dict[str, Any]
    input_size: tuple[int, int]
    blocks: dict[BlockKey, Entry] = field(default_factory=dict)
    skeletons: dict[SkeletonKey, Entry] = field(default_factory=dict)
    correction: Correction | None = None
    source: str | None = field(default=None, compare=False, repr=False)  # the file it was loaded from

    # ------------------------------------------------------------------ prediction
    def resolve_size(self, input_size: Sequence[int] | None) -> tuple[int, int]:
        """(H, W) from ``input_size`` ((H, W), (C, H, W) or (N, C, H, W)), or the table's default when None."""
        if input_size is None:
            return self.input_size
        size = tuple(int(s) for s in input_size)
        return size[-2], size[-1]  # type: ignore[return-value]

    def required(
        self, space: SearchSpace, arch: Architecture | None = None, input_size: Sequence[int] | None = None
    ) -> list[MissingEntry]:
        """Every entry needed to price ``arch`` (or every architecture of ``space`` when None)."""
        h, w = self.resolve_size(input_size)
        needed: list[MissingEntry] = [MissingEntry("", "", skeleton_key(space, h, w))]
        for p in space.positions:
            labels = [arch[p.name]] if arch is not None else list(p.labels)
            needed.extend(MissingEntry(p.name, lab, block_key(space, p.name, lab, h, w)) for lab in labels)
        return needed

    def missing(self, space: SearchSpace, input_size: Sequence[int] | None = None) -> list[MissingEntry]:
        """Entries absent from the table that some architecture of ``space`` needs."""
        return [m for m in self.required(space, None, input_size) if self._lookup(m.key) is None]

    def _lookup(self, key: BlockKey | SkeletonKey) -> Entry | None:
        return self.skeletons.get(key) if isinstance(key, SkeletonKey) else self.blocks.get(key)

    def _priced(
        self, space: SearchSpace, arch: Architecture, input_size: Sequence[int] | None
    ) -> list[tuple[MissingEntry, float]]:
        space._check_arch(arch)
        priced = []
        for m in self.required(space, arch, input_size):
            entry = self._lookup(m.key)
            if entry is None:
                raise LatencyTableError(
                    f"latency table has no entry for {m}; profile it (nasbench profile) or import it"
                )
            priced.append((m, entry.median_ms))
        return priced

    def breakdown(
        self, space: SearchSpace, arch: Architecture, input_size: Sequence[int] | None = None
    ) -> dict[str, float]:
        """Predicted milliseconds per part of the plain sum: ``skeleton`` and one value per position."""
        return {m.position or "skeleton": ms for m, ms in self._priced(space, arch, input_size)}

    def correction_ms(
        self, space: SearchSpace, arch: Architecture, input_size: Sequence[int] | None = None
    ) -> float:
        """What the table's correction adds to the plain sum for ``arch`` (ms); 0 without a correction or
        when it was fitted for another space or input size."""
        size = self.resolve_size(input_size)
        return self._residual(space.name, size, self._priced(space, arch, size))

    def signature_breakdown(
        self, space: SearchSpace, arch: Architecture, input_size: Sequence[int] | None = None
    ) -> dict[BlockKey, float]:
        """Predicted milliseconds of ``arch``'s blocks per signature (summed over the positions sharing it)."""
        return _by_signature(self._priced(space, arch, input_size))

    def _residual(self, space_name: str, size: tuple[int, int], priced: list[tuple[MissingEntry, float]]) -> float:
        if self.correction is None or not self.correction.applies(space_name, size):
            return 0.0
        return self.correction.residual_ms(_by_signature(priced))

    def predict(
        self,
        space: SearchSpace,
        arch: Architecture,
        input_size: Sequence[int] | None = None,
        *,
        corrected: bool = True,
    ) -> float:
        """Predicted end-to-end latency of ``arch`` in milliseconds: skeleton + Σ blocks, plus the table's
        correction when it has one for this space and size (``corrected=False``: the plain sum)."""
        size = self.resolve_size(input_size)
        priced = self._priced(space, arch, size)
        plain = float(sum(ms for _, ms in priced))
        return plain + self._residual(space.name, size, priced) if corrected else plain

    # ------------------------------------------------------------------ editing
    def merge(self, other: LatencyTable) -> LatencyTable:
        """A table with the entries of both; ``other`` wins on conflicts. Metadata must agree on the runtime.
        The result has no correction: one fitted to either table's entries does not fit the merged ones."""
        for key in ("device", "runtime", "threads", "graph_optimization", "block_context"):
            if self.metadata.get(key) != other.metadata.get(key):
                raise LatencyTableError(
                    f"cannot merge tables measured with different {key}: "
                    f"{self.metadata.get(key)!r} vs {other.metadata.get(key)!r}"
                )
        return LatencyTable(
            dict(self.metadata),
            self.input_size,
            {**self.blocks, **other.blocks},
            {**self.skeletons, **other.skeletons},
        )

    # ------------------------------------------------------------------ I/O
    def to_frame(self):  # noqa: ANN201 (pandas is imported lazily)
        """Entries as a pandas DataFrame: kind, name, options, channels, height, width, median/p10/p90, runs."""
        import pandas as pd

        rows = [
            {
                "kind": "block",
                "name": k.block,
                "options": json.dumps(dict(k.options)),
                "channels": k.channels,
                "height": k.height,
                "width": k.width,
                **asdict(e),
            }
            for k, e in self.blocks.items()
        ] + [
            {
                "kind": "skeleton",
                "name": k.backbone,
                "options": json.dumps(dict(k.config)),
                "channels": None,
                "height": k.height,
                "width": k.width,
                **asdict(e),
            }
            for k, e in self.skeletons.items()
        ]
        return pd.DataFrame(rows)

    def save(self, path: str | Path) -> Path:
        """Write the table as YAML (atomically: a temporary file, then a rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        header = {
            "format": FORMAT,
            "schema_version": SCHEMA_VERSION,
            "input_size": list(self.input_size),
            "metadata": self.metadata,
        }
        lines = [yaml.safe_dump(header, sort_keys=False, default_flow_style=False, width=120).rstrip()]
        lines.append("skeletons:" if self.skeletons else "skeletons: []")
        for k, e in sorted(self.skeletons.items(), key=lambda kv: (kv[0].backbone, str(kv[0].config), kv[0].height)):
            row = {"backbone": k.backbone, "config": _plain(dict(k.config)), "height": k.height, "width": k.width}
            lines.append("  - " + json.dumps({**row, **asdict(e)}))
        lines.append("blocks:" if self.blocks else "blocks: []")
        order = sorted(
            self.blocks.items(), key=lambda kv: (kv[0].block, str(kv[0].options), kv[0].channels, -kv[0].height)
        )
        for k, e in order:
            row = {
                "block": k.block,
                "options": _plain(dict(k.options)),
                "channels": k.channels,
                "height": k.height,
                "width": k.width,
            }
            lines.append("  - " + json.dumps({**row, **asdict(e)}))
        if self.correction is not None:
            data = self.correction.to_dict()
            rows = data.pop("calibration")
            lines.append("correction:")
            lines.extend(f"  {k}: {json.dumps(v)}" for k, v in data.items())
            lines.append("  calibration:" if rows else "  calibration: []")
            lines.extend("    - " + json.dumps(r) for r in rows)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> LatencyTable:
        """Read a table written by :meth:`save`; errors name the file and the entry."""
        from nasbench.latency.io import parse_table

        return parse_table(path)

    def validate(self, space: SearchSpace, n: int = 30, **kwargs: Any):  # noqa: ANN201
        """Predicted vs measured latency of ``n`` random architectures; see
        :func:`nasbench.latency.validate.validate`."""
        from nasbench.latency.validate import validate

        return validate(space, self, n, **kwargs)

    @classmethod
    def profile(
        cls, space: SearchSpace, input_size: Sequence[int], protocol: Any = None, **kwargs: Any
    ) -> LatencyTable:
        """Measure every candidate at every distinct position signature, and the skeleton; see
        :func:`nasbench.latency.profile.profile_space`."""
        from nasbench.latency.profile import profile_space

        return profile_space(space, input_size, protocol, **kwargs)


def _by_signature(priced: list[tuple[MissingEntry, float]]) -> dict[BlockKey, float]:
    parts: dict[BlockKey, float] = {}
    for m, ms in priced:
        if isinstance(m.key, BlockKey):
            parts[m.key] = parts.get(m.key, 0.0) + ms
    return parts


def _plain(value: Any) -> Any:
    """Frozen option values as YAML/JSON values (tuples become lists; freeze() restores them on load)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value
