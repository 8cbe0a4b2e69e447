"""``SearchSpace``: a backbone plus, at every block position, the candidate blocks.

Built from YAML (``SearchSpace.from_yaml``, ``load_space``) or from Python with the same keys::

    space = SearchSpace(
        name="mine",
        backbone={"type": "nafnet", "width": 16, "encoder_blocks": [1, 1, 1, 2],
                  "middle_blocks": 2, "decoder_blocks": [1, 1, 1, 1]},
        candidates=["naf", "naf_bn", "conv_bn_relu"],
        stages={"middle": {"candidates": ["naf"]}},
        positions={"enc1.0": {"candidates": ["naf", "identity"]}},
    )

Candidate options combine, later winning: the backbone's stage defaults, ``block_options`` of the
space, of the stage, of the position, then the candidate's own ``options``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn

from nasbench.blocks.registry import block_info, check_options, create_block
from nasbench.errors import ArchitectureError, BlockError, SpaceError, known, suggest
from nasbench.space import schema
from nasbench.space.architecture import Architecture
from nasbench.space.backbones import Backbone, Stage, get_backbone, list_backbones
from nasbench.space.position import Candidate, Position, freeze
from nasbench.space.schema import Where

_TOP_KEYS = ("name", "description", "backbone", "candidates", "block_options", "stages", "positions")
_OVERRIDE_KEYS = ("candidates", "block_options")
_CANDIDATE_KEYS = ("block", "label", "options")

CandidateSpec = str | Candidate | Mapping[str, Any]


class SearchSpace:
    """Positions of a backbone and their candidates; builds plain networks from architectures."""

    def __init__(
        self,
        name: str,
        backbone: Mapping[str, Any],
        candidates: Sequence[CandidateSpec],
        *,
        description: str = "",
        block_options: Mapping[str, Mapping[str, Any]] | None = None,
        stages: Mapping[str, Mapping[str, Any]] | None = None,
        positions: Mapping[str, Mapping[str, Any]] | None = None,
        source: str | None = None,
    ) -> None:
        where = Where(source or f"SearchSpace({name!r})")
        self.name = schema.identifier(name, where / "name")
        self.description = description if isinstance(description, str) else ""
        self.backbone_type, self.backbone_cls, self.backbone_config = _backbone_in(backbone, where / "backbone")
        self.stages: tuple[Stage, ...] = tuple(self.backbone_cls.stages(self.backbone_config))
        # The declaration as given (normalised), for to_yaml and equality.
        self._spec: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "backbone": {"type": self.backbone_type, **schema.dataclass_to_dict(self.backbone_config)},
            "candidates": [_candidate_spec_out(c) for c in _candidates_in(candidates, where / "candidates")],
            "block_options": _block_options_in(block_options, where / "block_options"),
            "stages": {},
            "positions": {},
        }
        stage_names = [s.name for s in self.stages]
        self._spec["stages"] = _overrides_in(stages, where / "stages", stage_names, "stage")
        position_names = [f"{s.name}.{i}" for s in self.stages for i in range(s.blocks)]
        self._spec["positions"] = _overrides_in(positions, where / "positions", position_names, "position")
        self.positions: tuple[Position, ...] = tuple(self._resolve_positions(where))
        if not self.positions:
            raise where.error("the backbone configuration has no block positions")

    # ------------------------------------------------------------------ construction
    def _resolve_positions(self, where: Where) -> list[Position]:
        spec = self._spec
        resolved = []
        for stage in self.stages:
            stage_spec = spec["stages"].get(stage.name, {})
            for i in range(stage.blocks):
                name = f"{stage.name}.{i}"
                pos_spec = spec["positions"].get(name, {})
                if "candidates" in pos_spec:
                    cands, cwhere = pos_spec["candidates"], where / "positions" / name / "candidates"
                elif "candidates" in stage_spec:
                    cands, cwhere = stage_spec["candidates"], where / "stages" / stage.name / "candidates"
                else:
                    cands, cwhere = spec["candidates"], where / "candidates"
                layers = (
                    stage.block_options,
                    spec["block_options"],
                    stage_spec.get("block_options", {}),
                    pos_spec.get("block_options", {}),
                )
                candidates = []
                for j, raw in enumerate(_candidates_in(cands, cwhere)):
                    options: dict[str, Any] = {}
                    for layer in layers:
                        options.update(layer.get(raw["block"], {}))
                    options.update(raw["options"])
                    candidate = Candidate.of(raw["block"], raw["label"], **options)
                    self._check_candidate(candidate, stage.channels, cwhere / j)
                    candidates.append(candidate)
                labels = [c.label for c in candidates]
                dup = next((lab for lab in labels if labels.count(lab) > 1), None)
                if dup is not None:
                    raise cwhere.error(
                        f"label {dup!r} appears twice; give candidates of the same block distinct 'label's"
                    )
                resolved.append(Position(name, stage.name, i, stage.channels, stage.resolution, tuple(candidates)))
        return resolved

    @staticmethod
    def _check_candidate(candidate: Candidate, channels: int, where: Where) -> None:
        try:
            check_options(candidate.block, candidate.kwargs)
            params = _meta_parameter_count(candidate.block, channels, candidate.kwargs)
            if params is not None and params > MAX_BLOCK_PARAMS:
                raise BlockError(
                    f"block {candidate.block!r} (channels={channels}, options={dict(candidate.kwargs)}) would have "
                    f"{params:,} parameters (limit {MAX_BLOCK_PARAMS:,}); check its options"
                )
            create_block(candidate.block, channels, **candidate.kwargs)
        except BlockError as exc:
            raise where.error(str(exc)) from None

    # ------------------------------------------------------------------ YAML
    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<dict>") -> SearchSpace:
        where = Where(source)
        data = schema.mapping(data, where, _TOP_KEYS, required=("name", "backbone", "candidates"))
        return cls(
            name=data["name"],
            backbone=data["backbone"],
            candidates=data["candidates"],
            description=data.get("description", ""),
            block_options=data.get("block_options"),
            stages=data.get("stages"),
            positions=data.get("positions"),
            source=source,
        )

    @classmethod
    def from_yaml(cls, path: str | Path) -> SearchSpace:
        """Read a space from a YAML file (``yaml.safe_load``); errors name the file and key."""
        data = schema.load_yaml_mapping(path, "keys name, backbone, candidates")
        return cls.from_dict(data, source=str(path))

    def to_dict(self) -> dict[str, Any]:
        spec = {k: v for k, v in self._spec.items() if v or k in ("name", "backbone", "candidates")}
        return _plain(spec)

    def to_yaml(self, path: str | Path | None = None) -> str:
        """The space as YAML text; also written to ``path`` when given."""
        text = yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None, width=100)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchSpace) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash((self.name, self.positions))

    def __repr__(self) -> str:
        return (
            f"SearchSpace({self.name!r}, backbone={self.backbone_type!r}, positions={len(self.positions)}, "
            f"searchable={len(self.searchable_positions)}, size={self.size_str})"
        )

    # ------------------------------------------------------------------ queries
    @property
    def stage_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.stages if s.blocks)

    @property
    def searchable_positions(self) -> tuple[Position, ...]:
        return tuple(p for p in self.positions if p.searchable)

    @property
    def size(self) -> int:
        """Number of architectures: the product of the candidate counts (an exact integer)."""
        return math.prod(len(p.candidates) for p in self.positions)

    @property
    def size_str(self) -> str:
        size = self.size
        return str(size) if size < 10**6 else f"{size:.3e}"

    @property
    def pad_multiple(self) -> int:
        """Input sides are padded to a multiple of this (2^levels)."""
        return max(s.resolution for s in self.stages)

    def position(self, name: str) -> Position:
        for p in self.positions:
            if p.name == name:
                return p
        names = [p.name for p in self.positions]
        raise ArchitectureError(f"space {self.name!r}: unknown position {name!r}{suggest(name, names)}")

    # ------------------------------------------------------------------ architectures
    def baseline(self) -> Architecture:
        """Every position takes its first (original) candidate."""
        return Architecture(self, [p.candidates[0].label for p in self.positions])

    def random(self, seed: int | None = None) -> Architecture:
        """A uniformly random architecture; the same ``seed`` gives the same one."""
        rng = random.Random(seed)
        return Architecture(self, [rng.choice(p.candidates).label for p in self.positions])

    def architecture(self, choices: Mapping[str, str] | Sequence[str] | str) -> Architecture:
        """An architecture from a mapping, a label list or the compact string."""
        if isinstance(choices, str):
            return Architecture.parse(self, choices)
        return Architecture(self, choices)

    def from_indices(self, indices: Sequence[int]) -> Architecture:
        """An architecture from one candidate index per position (the encoding searches use)."""
        if len(indices) != len(self.positions):
            raise ArchitectureError(f"space {self.name!r}: expected {len(self.positions)} indices, got {len(indices)}")
        labels = []
        for p, i in zip(self.positions, indices):
            if not 0 <= int(i) < len(p.candidates):
                raise ArchitectureError(f"position {p.name}: index {i} out of range 0..{len(p.candidates) - 1}")
            labels.append(p.candidates[int(i)].label)
        return Architecture(self, labels)

    def indices(self, arch: Architecture) -> list[int]:
        """Candidate index per position of ``arch``."""
        self._check_arch(arch)
        return [p.labels.index(label) for p, label in zip(self.positions, arch.labels)]

    def _check_arch(self, arch: Architecture) -> None:
        if not isinstance(arch, Architecture):
            raise ArchitectureError(f"expected an Architecture, got {type(arch).__name__}")
        if arch.space_name != self.name or tuple(arch) != tuple(p.name for p in self.positions):
            raise ArchitectureError(f"architecture of space {arch.space_name!r} does not fit space {self.name!r}")

    def build(self, arch: Architecture | str | None = None) -> nn.Module:
        """A plain ``nn.Module`` for ``arch`` (default: the baseline), with no search machinery in it."""
        arch = self.baseline() if arch is None else self.architecture(arch) if isinstance(arch, str) else arch
        self._check_arch(arch)
        blocks: dict[str, list[nn.Module]] = {s.name: [] for s in self.stages}
        owner: dict[int, str] = {}
        for position, label in zip(self.positions, arch.labels):
            c = position.candidate(label)
            block = create_block(c.block, position.channels, **c.kwargs)
            blocks[position.stage].append(block)
            owner[id(block)] = position.name
        model = self.backbone_cls(self.backbone_config, blocks)
        # Module path → position, so exported ONNX nodes and profiles can be attributed to positions.
        model.position_names = {path: owner[id(m)] for path, m in model.named_modules() if id(m) in owner}
        return model

    def supernet(self, mode: str = "all", paths: int = 1, temperature: float = 1.0) -> nn.Module:
        """A :class:`~nasbench.supernet.Supernet` over this space (``mode`` ``"all"`` or ``"sampled"``)."""
        from nasbench.supernet import Supernet

        return Supernet(self, mode=mode, paths=paths, temperature=temperature)  # type: ignore[arg-type]

    def skeleton(self) -> nn.Module:
        """The backbone with every position the identity: stem, samplers, skips, head and padding only."""
        from nasbench.blocks.conv import IdentityBlock

        blocks = {s.name: [IdentityBlock(s.channels) for _ in range(s.blocks)] for s in self.stages}
        model = self.backbone_cls(self.backbone_config, blocks)
        model.position_names = {}
        return model

    def describe(self) -> str:
        """A human-readable table of the positions and their candidates."""
        lines = [f"{self.name}: {self.description}".rstrip(": "), repr(self), ""]
        width = max(len(p.name) for p in self.positions)
        for p in self.positions:
            cands = ", ".join(str(c) for c in p.candidates)
            lines.append(f"  {p.name:<{width}}  C={p.channels:<4} 1/{p.resolution:<3} {cands}")
        return "\n".join(lines)


# ---------------------------------------------------------------------- helpers
def _backbone_in(value: object, where: Where) -> tuple[str, type[Backbone], Any]:
    """The backbone's type name, class and parsed configuration."""
    if not isinstance(value, Mapping) or "type" not in value:
        raise where.error(f"expected a mapping with a 'type' key {known(list_backbones())}")
    btype = schema.string(value["type"], where / "type")
    try:
        cls = get_backbone(btype)
    except SpaceError as exc:
        raise (where / "type").error(str(exc) + suggest(btype, list_backbones())) from None
    return btype, cls, schema.dataclass_from(cls.Config, value, where, skip=["type"])


def _candidates_in(value: object, where: Where) -> list[dict[str, Any]]:
    """Normalise candidate entries (a block name, a ``Candidate`` or a mapping) to dicts."""
    out = []
    for i, item in enumerate(schema.string_list(value, where)):
        w = where / i
        if isinstance(item, Candidate):
            entry = {"block": item.block, "label": item.label, "options": item.kwargs}
        elif isinstance(item, str):
            entry = {"block": item, "label": item, "options": {}}
        else:
            raw = schema.mapping(item, w, _CANDIDATE_KEYS, required=("block",))
            block = schema.string(raw["block"], w / "block")
            options = raw.get("options", {})
            schema.mapping(options, w / "options", list(options) if isinstance(options, Mapping) else [])
            entry = {
                "block": block,
                "label": schema.identifier(raw.get("label", block), w / "label"),
                "options": dict(options),
            }
        try:
            block_info(entry["block"])
        except BlockError as exc:
            raise w.error(str(exc)) from None
        schema.identifier(entry["label"], w)
        out.append(entry)
    return out


def _candidate_spec_out(entry: Mapping[str, Any]) -> Any:
    if entry["label"] == entry["block"] and not entry["options"]:
        return entry["block"]
    out: dict[str, Any] = {"block": entry["block"]}
    if entry["label"] != entry["block"]:
        out["label"] = entry["label"]
    if entry["options"]:
        out["options"] = dict(entry["options"])
    return out


def _block_options_in(value: object, where: Where) -> dict[str, dict[str, Any]]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise where.error(f"expected a mapping of block name to options, got {schema.describe(value)}")
    out = {}
    for block, options in value.items():
        try:
            block_info(block)
        except BlockError as exc:
            raise (where / block).error(str(exc)) from None
        if not isinstance(options, Mapping):
            raise (where / block).error(f"expected a mapping of options, got {schema.describe(options)}")
        try:
            check_options(block, options)
        except BlockError as exc:
            raise (where / block).error(str(exc)) from None
        out[block] = dict(options)
    return out


def _overrides_in(value: object, where: Where, names: Sequence[str], kind: str) -> dict[str, dict[str, Any]]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise where.error(f"expected a mapping of {kind} name to overrides, got {schema.describe(value)}")
    out = {}
    for name, override in value.items():
        if name not in names:
            shown = names if len(names) <= 12 else [*names[:12], "..."]
            raise (where / name).error(f"unknown {kind} {known(shown)}{suggest(str(name), names)}")
        data = schema.mapping(override, where / name, _OVERRIDE_KEYS)
        entry: dict[str, Any] = {}
        if "candidates" in data:
            entry["candidates"] = [
                _candidate_spec_out(c) for c in _candidates_in(data["candidates"], where / name / "candidates")
            ]
        if "block_options" in data:
            entry["block_options"] = _block_options_in(data["block_options"], where / name / "block_options")
        out[name] = entry
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


#: Candidates are built once to validate a space; a block beyond this many parameters (4 GiB of float32)
#: is refused first, counted on the meta device, so an absurd option (ffn_expansion=1e9) cannot exhaust memory.
MAX_BLOCK_PARAMS = 2**30


def _meta_parameter_count(block: str, channels: int, options: Mapping[str, Any]) -> int | None:
    """Parameters of ``block`` built on the meta device (no memory); None when it cannot be built there."""
    try:
        with torch.device("meta"):
            module = block_info(block).cls(channels, **options)
    except Exception:  # the real construction below reports the error
        return None
    return sum(p.numel() for p in module.parameters())


__all__ = ["SearchSpace", "Candidate", "Position", "freeze"]

