"""Operator checks: does an ONNX file use only the operators (and attribute values) a target accepts?

An allow-list names the ONNX operators a target runs and, per operator, optional attribute constraints
(the attribute's value must be one of the listed values). Built-in lists live in
``nasbench/profiles/allowlists/*.yaml``; see docs/deployment.md for the format and their sources.

    violations = check_operators("net.onnx", "npu_native")
    # [OperatorViolation(node='node_Conv_3', op_type='Conv',
    #                    reason='Conv kernel_shape 1x1 not allowed (allowed: 3x3)'), ...]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nasbench.errors import ExportError, known, suggest
from nasbench.space.schema import read_yaml

if TYPE_CHECKING:  # onnx costs ≈ 1 s to import: each function below imports it when it runs
    import onnx

_TOP_KEYS = ("name", "description", "source", "ops")
_DEFAULT_DOMAINS = ("", "ai.onnx")
# Spatial attributes are shown as 3x3; other lists as [a, b].
_SHAPE_ATTRIBUTES = frozenset({"kernel_shape", "strides", "dilations"})

AttributeValue = int | float | str | tuple[int | float | str, ...]


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _list_of(check: Callable[[object], bool]) -> Callable[[object], bool]:
    return lambda v: isinstance(v, list) and all(check(x) for x in v)


@cache
def _constrainable() -> dict[int, tuple[str, Callable[[object], bool]]]:
    """The attribute types a constraint may name: what each allowed value must look like in YAML."""
    from onnx import AttributeProto

    return {
        AttributeProto.INT: ("an integer", _is_int),
        AttributeProto.INTS: ("a list of integers", _list_of(_is_int)),
        AttributeProto.FLOAT: ("a number", _is_number),
        AttributeProto.FLOATS: ("a list of numbers", _list_of(_is_number)),
        AttributeProto.STRING: ("a string", lambda v: isinstance(v, str)),
        AttributeProto.STRINGS: ("a list of strings", _list_of(lambda v: isinstance(v, str))),
    }


@dataclass(frozen=True)
class OperatorViolation:
    """One node of an ONNX graph the allow-list rejects, and why."""

    node: str
    op_type: str
    reason: str

    def __str__(self) -> str:
        return f"{self.node}: {self.reason}"


@dataclass(frozen=True)
class AllowList:
    """ONNX operators a target accepts; ``ops`` maps an op type to {attribute: allowed values}.

    Constructing one validates it like a YAML file (unknown ONNX operators or attributes, values of the
    wrong type raise :class:`~nasbench.errors.ExportError`); values are stored normalised (lists become
    tuples, floats are rounded to float32 as ONNX stores them).
    """

    name: str
    ops: Mapping[str, Mapping[str, tuple[AttributeValue, ...]]] = field(hash=False)
    description: str = ""
    source: str = ""
    #: The file it was read from, if any; error messages name it.
    path: str | None = None

    def __post_init__(self) -> None:
        origin = self.path or f"AllowList({self.name!r})"
        object.__setattr__(self, "name", _name_in(self.name, origin))
        for key in ("description", "source"):
            if not isinstance(getattr(self, key), str):
                raise _error(origin, key, f"expected a string, got {_describe(getattr(self, key))}")
        object.__setattr__(self, "ops", _ops_in(self.ops, origin))

    @classmethod
    def from_dict(cls, data: object, path: str = "<dict>") -> AllowList:
        """An allow-list from the mapping a YAML file holds; errors name ``path`` and the key."""
        if not isinstance(data, Mapping):
            raise ExportError(f"{path}: expected a mapping with keys {', '.join(_TOP_KEYS)}, got {_describe(data)}")
        for key in data:
            if key not in _TOP_KEYS:
                raise _error(path, str(key), f"unknown key {known(_TOP_KEYS)}{suggest(str(key), _TOP_KEYS)}")
        for key in ("name", "ops"):
            if key not in data:
                raise ExportError(f"{path}: missing required key {key!r}")
        return cls(
            name=data["name"],
            ops=data["ops"],
            # An empty YAML value (``description:``) reads as None; treat it as no text.
            description="" if data.get("description") is None else data["description"],
            source="" if data.get("source") is None else data["source"],
            path=path,
        )

    @classmethod
    def from_yaml(cls, path: str | Path) -> AllowList:
        """Read an allow-list YAML file (``yaml.safe_load``)."""
        _, data = read_yaml(path, ExportError)
        return cls.from_dict(data, str(path))


def check_operators(onnx_path: str | Path, allowed: str | Path | AllowList) -> list[OperatorViolation]:
    """Every node of the ONNX file that ``allowed`` rejects, in graph order (empty when it passes).

    ``allowed`` is a built-in allow-list name (:func:`list_allowlists`), a path to an allow-list YAML
    file, or an :class:`AllowList`. Local functions are inlined first, and the nodes of subgraphs
    (``If``/``Loop`` bodies) are checked too. Nodes outside the default ONNX domain always violate.
    """
    import onnx

    allow = allowed if isinstance(allowed, AllowList) else load_allowlist(allowed)
    model = _load_model(Path(onnx_path))
    opset = next(
        (o.version for o in model.opset_import if o.domain in _DEFAULT_DOMAINS), onnx.defs.onnx_opset_version()
    )
    graphs = list(_graphs(model.graph))
    initializers = {t.name: t for g in graphs for t in g.initializer}
    violations = []
    for i, node in enumerate(n for g in graphs for n in g.node):
        reason = _reason(allow, node, opset, initializers)
        if reason is not None:
            violations.append(OperatorViolation(node.name or f"<{node.op_type} #{i}>", node.op_type, reason))
    return violations


def list_allowlists() -> list[str]:
    """Names of the built-in allow-lists (``nasbench/profiles/allowlists/*.yaml``)."""
    return sorted(p.stem for p in _builtin_dir().glob("*.yaml"))


def load_allowlist(name_or_path: str | Path) -> AllowList:
    """A built-in allow-list by name (``npu_native``, ...) or an allow-list from a YAML file path."""
    text = str(name_or_path)
    names = list_allowlists()
    if not isinstance(name_or_path, Path) and text in names:
        return AllowList.from_yaml(_builtin_dir() / f"{text}.yaml")
    path = Path(text)
    if isinstance(name_or_path, Path) or path.suffix in (".yaml", ".yml") or path.exists():
        return AllowList.from_yaml(path)
    raise ExportError(
        f"unknown allow-list {text!r}: not a built-in allow-list {known(names)}{suggest(text, names)} nor a YAML file"
    )


# ---------------------------------------------------------------------- helpers
def _builtin_dir() -> Path:
    return Path(str(resources.files("nasbench") / "profiles" / "allowlists"))


def _error(origin: str, key: str, message: str) -> ExportError:
    return ExportError(f"{origin}: {key}: {message}")


def _describe(value: object) -> str:
    return repr(value) if isinstance(value, str | int | float | bool) or value is None else type(value).__name__


def _name_in(value: object, origin: str) -> str:
    if not isinstance(value, str) or not value or not all(ch.isalnum() or ch in "_-" for ch in value):
        raise _error(origin, "name", f"expected a name of letters, digits, '_' and '-', got {_describe(value)}")
    return value


@cache
def _onnx_ops() -> frozenset[str]:
    import onnx

    return frozenset(s.name for s in onnx.defs.get_all_schemas() if s.domain in _DEFAULT_DOMAINS)


def _ops_in(value: object, origin: str) -> dict[str, dict[str, tuple[AttributeValue, ...]]]:
    """Validate and normalise the ``ops`` mapping: op type → {attribute: allowed values}."""
    import onnx

    if not isinstance(value, Mapping) or not value:
        raise _error(
            origin, "ops", f"expected a non-empty mapping of ONNX op type to constraints, got {_describe(value)}"
        )
    ops = {}
    for op, constraints in value.items():
        key = f"ops.{op}"
        if not isinstance(op, str) or op not in _onnx_ops():
            raise _error(origin, key, f"not an ONNX operator of the default domain{suggest(str(op), _onnx_ops())}")
        if constraints is None:
            constraints = {}
        if not isinstance(constraints, Mapping):
            raise _error(
                origin,
                key,
                f"expected a mapping of attribute to allowed values ({{}} for none), got {_describe(constraints)}",
            )
        schema_attributes = onnx.defs.get_schema(op).attributes
        ops[op] = {}
        for attribute, allowed in constraints.items():
            akey = f"{key}.{attribute}"
            if attribute not in schema_attributes:
                names = sorted(schema_attributes)
                detail = f"{known(names)}{suggest(str(attribute), names)}" if names else "(it has none)"
                raise _error(origin, akey, f"{op} has no attribute {attribute!r} {detail}")
            kind = _constrainable().get(schema_attributes[attribute].type)
            if kind is None:
                raise _error(
                    origin,
                    akey,
                    f"{attribute} holds a tensor or graph; only number and string attributes can be constrained",
                )
            what, check = kind
            if not isinstance(allowed, list) or not allowed:
                raise _error(
                    origin, akey, f"expected a non-empty list of allowed values, each {what}, got {_describe(allowed)}"
                )
            for i, item in enumerate(allowed):
                if not check(item):
                    raise _error(origin, f"{akey}.{i}", f"expected {what} ({op}.{attribute}), got {_describe(item)}")
            ops[op][attribute] = tuple(_normalise(v) for v in allowed)
    return ops


def _normalise(value: Any) -> AttributeValue:
    """ONNX and YAML values in one comparable form: str for bytes, tuples for lists, float32 floats."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, list | tuple):
        return tuple(_normalise(v) for v in value)
    if isinstance(value, float):
        return float(np.float32(value))
    return value


def _format(attribute: str, value: AttributeValue, quote: bool = False) -> str:
    if isinstance(value, tuple) and attribute in _SHAPE_ATTRIBUTES:
        return "x".join(str(v) for v in value)
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return repr(value) if quote and isinstance(value, str) else str(value)


def _reason(
    allow: AllowList, node: onnx.NodeProto, opset: int, initializers: Mapping[str, onnx.TensorProto]
) -> str | None:
    """Why ``node`` is not allowed (every failed constraint, joined by '; '), or None when it is.

    ``opset`` is the model's default-domain opset (for attribute defaults); ``initializers`` lets
    ``kernel_shape`` be read from the weight when a Conv omits it, as the ONNX spec allows.
    """
    if node.domain not in _DEFAULT_DOMAINS:
        return f"op {node.domain}.{node.op_type} not allowed (custom domain {node.domain!r})"
    constraints = allow.ops.get(node.op_type)
    if constraints is None:
        return f"op {node.op_type} not allowed"
    reasons = []
    for attribute, allowed in constraints.items():
        value = _attribute_value(node, attribute, opset, initializers)
        shown = ", ".join(_format(attribute, v) for v in allowed)
        if value is None:
            reasons.append(f"{node.op_type} {attribute} is not set and has no default (allowed: {shown})")
        elif value not in allowed:
            reasons.append(
                f"{node.op_type} {attribute} {_format(attribute, value, quote=True)} not allowed (allowed: {shown})"
            )
    return "; ".join(reasons) or None


def _kernel_shape(node: onnx.NodeProto, initializers: Mapping[str, onnx.TensorProto]) -> tuple[int, ...] | None:
    """The ``kernel_shape`` attribute, else the spatial dims of the weight initializer (input 1)."""
    for a in node.attribute:
        if a.name == "kernel_shape":
            return tuple(a.ints)
    weight = initializers.get(node.input[1]) if len(node.input) > 1 else None
    return tuple(weight.dims[2:]) if weight is not None else None


def _per_axis(fill: int, per_axis: int) -> Callable[[onnx.NodeProto, Mapping[str, onnx.TensorProto]], Any]:
    """A default of ``per_axis`` × ``fill`` values per spatial axis (the axes counted from the kernel)."""

    def infer(node: onnx.NodeProto, initializers: Mapping[str, onnx.TensorProto]) -> tuple[int, ...] | None:
        kernel = _kernel_shape(node, initializers)
        return None if kernel is None else (fill,) * (per_axis * len(kernel))

    return infer


# Defaults the ONNX spec gives in prose instead of the schema (Conv, ConvTranspose, pooling): the kernel
# shape is the weight's, strides and dilations are 1 and pads 0 along every spatial axis.
_INFERRED: dict[str, Callable[[onnx.NodeProto, Mapping[str, onnx.TensorProto]], Any]] = {
    "kernel_shape": _kernel_shape,
    "strides": _per_axis(1, 1),
    "dilations": _per_axis(1, 1),
    "pads": _per_axis(0, 2),
}


def _attribute_value(
    node: onnx.NodeProto, attribute: str, opset: int, initializers: Mapping[str, onnx.TensorProto]
) -> AttributeValue | None:
    """The node's value for ``attribute``: set, else the schema default at ``opset``, else inferred."""
    import onnx

    for a in node.attribute:
        if a.name == attribute:
            return _normalise(onnx.helper.get_attribute_value(a))
    try:
        schema = onnx.defs.get_schema(node.op_type, opset)
    except onnx.defs.SchemaError:
        schema = onnx.defs.get_schema(node.op_type)
    spec = schema.attributes.get(attribute)
    if spec is not None and spec.default_value.type != onnx.AttributeProto.UNDEFINED:
        return _normalise(onnx.helper.get_attribute_value(spec.default_value))
    infer = _INFERRED.get(attribute)
    return infer(node, initializers) if infer is not None else None


def _load_model(path: Path) -> onnx.ModelProto:
    import onnx
    import onnx.inliner

    if not path.is_file():
        raise ExportError(f"{path}: no such ONNX file")
    try:
        # Only the graph is needed: weights stored outside the file stay unread.
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf raises several unrelated types for a corrupt file
        raise ExportError(f"{path}: not an ONNX model: {type(exc).__name__}: {str(exc).splitlines()[0]}") from exc
    if model.functions:
        model = onnx.inliner.inline_local_functions(model)
    return model


def _graphs(graph: onnx.GraphProto) -> Iterator[onnx.GraphProto]:
    """``graph`` and, depth first, every subgraph held by a node attribute (If / Loop / Scan bodies)."""
    from onnx import AttributeProto

    yield graph
    for node in graph.node:
        for a in node.attribute:
            if a.type == AttributeProto.GRAPH:
                yield from _graphs(a.g)
            elif a.type == AttributeProto.GRAPHS:
                for g in a.graphs:
                    yield from _graphs(g)


__all__ = ["AllowList", "OperatorViolation", "check_operators", "list_allowlists", "load_allowlist"]
