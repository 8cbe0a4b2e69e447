"""``Architecture``: one candidate chosen per position — the value object that travels the pipeline.

Its string form groups positions by stage and run-length encodes repeats, e.g. for NAFNet-SIDD::

    enc1:naf*2 enc2:naf*2 enc3:naf,naf_bn*3 enc4:naf*8 middle:naf*12 dec4:naf*2 dec3:naf*2 dec2:naf*2 dec1:naf*2

``Architecture.parse(space, text)`` reads it back; ``to_json``/``from_json`` give a JSON round trip.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from nasbench.errors import ArchitectureError, known

if TYPE_CHECKING:
    from nasbench.space.space import SearchSpace


class Architecture(Mapping[str, str]):
    """An immutable choice of candidate label per position of a search space.

    Behaves as a read-only mapping ``position name → candidate label`` in the space's position order.
    """

    __slots__ = ("_space", "_positions", "_labels")

    def __init__(self, space: SearchSpace, choices: Mapping[str, str] | Sequence[str]) -> None:
        names = tuple(p.name for p in space.positions)
        if isinstance(choices, Mapping):
            unknown = [k for k in choices if k not in names]
            if unknown:
                raise ArchitectureError(f"space {space.name!r}: unknown position {unknown[0]!r} {known(names)}")
            missing = [n for n in names if n not in choices]
            if missing:
                raise ArchitectureError(f"space {space.name!r}: no choice for position(s) {', '.join(missing)}")
            labels = tuple(choices[n] for n in names)
        elif isinstance(choices, Sequence):
            labels = tuple(choices)
            if len(labels) != len(names):
                raise ArchitectureError(f"space {space.name!r} has {len(names)} positions, got {len(labels)} choices")
        else:
            raise ArchitectureError(
                f"space {space.name!r}: expected a mapping of position to label, a list of labels or an "
                f"architecture string, got {type(choices).__name__}"
            )
        for position, label in zip(space.positions, labels):
            position.candidate(label)
        object.__setattr__(self, "_space", space.name)
        object.__setattr__(self, "_positions", names)
        object.__setattr__(self, "_labels", labels)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Architecture is immutable")

    # Mapping protocol
    def __getitem__(self, position: str) -> str:
        try:
            return self._labels[self._positions.index(position)]
        except ValueError:
            raise KeyError(position) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._positions)

    def __len__(self) -> int:
        return len(self._positions)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Architecture):
            return NotImplemented
        return (self._space, self._positions, self._labels) == (other._space, other._positions, other._labels)

    def __hash__(self) -> int:
        return hash((self._space, self._positions, self._labels))

    @property
    def space_name(self) -> str:
        return self._space

    @property
    def labels(self) -> tuple[str, ...]:
        """The chosen labels in position order."""
        return self._labels

    def replace(self, space: SearchSpace, **choices: str) -> Architecture:
        """A copy with some positions changed; keys may use ``_`` for ``.`` (``enc2_1='naf_bn'``)."""
        new = dict(self)
        for key, label in choices.items():
            name = key if key in new else key.replace("_", ".")
            if name not in new:
                raise ArchitectureError(f"space {self._space!r}: unknown position {key!r} {known(new)}")
            new[name] = label
        return Architecture(space, new)

    def __str__(self) -> str:
        groups: list[str] = []
        stages = itertools.groupby(zip(self._positions, self._labels), key=lambda pl: pl[0].rsplit(".", 1)[0])
        for stage, items in stages:
            runs = []
            for label, run in itertools.groupby(label for _, label in items):
                count = len(list(run))
                runs.append(label if count == 1 else f"{label}*{count}")
            groups.append(f"{stage}:{','.join(runs)}")
        return " ".join(groups)

    def __repr__(self) -> str:
        return f"Architecture({self._space!r}, {str(self)!r})"

    @classmethod
    def parse(cls, space: SearchSpace, text: str) -> Architecture:
        """Read the string form back; errors name the stage and the allowed labels."""
        if not isinstance(text, str) or not text.strip():
            raise ArchitectureError(f"space {space.name!r}: empty architecture string")
        stages: dict[str, list[str]] = {}
        for group in text.split():
            stage, sep, body = group.partition(":")
            if not sep or not body:
                raise ArchitectureError(f"architecture string: {group!r} is not 'stage:label,label*n'")
            if stage in stages:
                raise ArchitectureError(f"architecture string: stage {stage!r} appears twice")
            labels: list[str] = []
            for item in body.split(","):
                label, star, count = item.partition("*")
                if star:
                    if not count.isdigit() or int(count) < 1:
                        raise ArchitectureError(
                            f"architecture string: stage {stage!r}: bad repeat {item!r} (use label*N, N ≥ 1)"
                        )
                    labels.extend([label] * int(count))
                else:
                    labels.append(label)
            stages[stage] = labels
        expected = space.stage_names
        unknown = [s for s in stages if s not in expected]
        if unknown:
            raise ArchitectureError(f"architecture string: unknown stage {unknown[0]!r} {known(expected)}")
        choices: dict[str, str] = {}
        for stage in expected:
            positions = [p for p in space.positions if p.stage == stage]
            got = stages.get(stage, [])
            if len(got) != len(positions):
                raise ArchitectureError(
                    f"architecture string: stage {stage!r} has {len(positions)} positions, got {len(got)} labels"
                )
            choices.update({p.name: label for p, label in zip(positions, got)})
        return cls(space, choices)

    def to_dict(self) -> dict[str, Any]:
        return {"space": self._space, "choices": dict(zip(self._positions, self._labels))}

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, space: SearchSpace, data: Mapping[str, Any]) -> Architecture:
        if not isinstance(data, Mapping) or not isinstance(data.get("choices"), Mapping):
            raise ArchitectureError("architecture JSON: expected an object with 'space' and 'choices'")
        if data.get("space") != space.name:
            raise ArchitectureError(f"architecture JSON: made for space {data.get('space')!r}, not {space.name!r}")
        return cls(space, data["choices"])

    @classmethod
    def from_json(cls, space: SearchSpace, text: str) -> Architecture:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ArchitectureError(f"architecture JSON: {exc}") from None
        return cls.from_dict(space, data)
