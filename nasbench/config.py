"""Run configurations: a YAML file of settings with ``section.key=value`` overrides.

The long-running commands (``nasbench quickstart``, ``search darts``, ``search mobo``, ``distill``,
``finetune``) and the recipes in ``examples/`` take their settings as one nested mapping
(``{"darts": {"steps": 120, ...}, "data": {...}, ...}``). :func:`build_config` layers, in order:

1. the command's defaults;
2. a YAML file (``--config run.yaml``; optionally one top-level section of it, e.g. ``tiny``), merged
   section by section, so a file may set ``darts: {steps: 50}`` and keep the other ``darts`` defaults;
3. overrides ``KEY=VALUE`` (``--set darts.mu=1.0``), the value parsed as YAML (``1.0`` a float,
   ``[64, 64]`` a list, ``null`` None).

After each layer the settings are checked by the command's validator; an error names where the bad key
came from (the file, or the ``--set`` item), the key and the allowed keys::

    run.yaml: settings: darts.muu: unknown option (known: alpha_lr, ...); did you mean 'mu'?
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from nasbench.errors import NasbenchError, known, suggest

#: Checks a complete settings mapping; raises :class:`NasbenchError` (message without the source).
Validator = Callable[[Mapping[str, Any]], object]
#: Top-level key → the option names its section accepts, or None for a value that is not checked here.
Allowed = Mapping[str, Collection[str] | None]


def read_config(path: str | Path, section: str | None = None) -> dict[str, Any]:
    """The mapping in YAML file ``path`` (or its top-level ``section``); errors name the file."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise NasbenchError(f"{p}: cannot read the configuration ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise NasbenchError(f"{p}:{where}: not valid YAML ({getattr(exc, 'problem', None) or exc})") from None
    data = {} if data is None else data
    if not isinstance(data, Mapping):
        raise NasbenchError(f"{p}: a configuration must be a mapping of settings, got {type(data).__name__}")
    if section is not None:
        if section not in data:
            raise NasbenchError(f"{p}: no section {section!r} {known(data)}{suggest(section, map(str, data))}")
        data = data[section]
        if not isinstance(data, Mapping):
            raise NasbenchError(f"{p}: section {section!r} must be a mapping of settings")
    return dict(data)


def set_key(config: Mapping[str, Any], item: str) -> dict[str, Any]:
    """A copy of ``config`` with one ``dotted.key=value`` override applied (value parsed as YAML)."""
    key, sep, text = item.partition("=")
    if not sep or not key or any(not part for part in key.split(".")):
        raise NasbenchError(f"--set {item!r}: expected KEY=VALUE with a dotted key, e.g. darts.mu=1.0")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise NasbenchError(f"--set {item!r}: the value is not valid YAML ({getattr(exc, 'problem', exc)})") from None
    return set_value(config, key, value)


def set_value(config: Mapping[str, Any], key: str, value: Any) -> dict[str, Any]:
    """A copy of ``config`` with ``value`` at the dotted ``key`` (missing sections are created)."""
    out = copy.deepcopy(dict(config))
    *parents, leaf = key.split(".")
    node = out
    for depth, part in enumerate(parents):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            where = ".".join(parents[: depth + 1])
            raise NasbenchError(f"{key}: {where} is a value ({child!r}), not a section")
        node = child
    node[leaf] = copy.deepcopy(value)
    return out


def apply_overrides(config: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """``config`` with every ``KEY=VALUE`` of ``overrides`` applied in order (no key checks)."""
    out = copy.deepcopy(dict(config))
    for item in overrides:
        out = set_key(out, item)
    return out


def merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``update`` section by section: a mapping in both is merged one level deep."""
    out = copy.deepcopy(dict(base))
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = {**out[key], **copy.deepcopy(dict(value))}
        else:
            out[key] = copy.deepcopy(value)
    return out


def check_keys(config: Mapping[str, Any], allowed: Allowed) -> None:
    """Raise :class:`NasbenchError` for a top-level key or a section option that ``allowed`` lacks."""
    for key, value in config.items():
        if key not in allowed:
            raise NasbenchError(f"settings: {key}: unknown key {known(sorted(allowed))}{suggest(str(key), allowed)}")
        options = allowed[key]
        if options is None:
            continue
        if not isinstance(value, Mapping):
            raise NasbenchError(f"settings: {key} must be a mapping of options, got {value!r}")
        for option in value:
            if option not in options:
                raise NasbenchError(
                    f"settings: {key}.{option}: unknown option {known(sorted(options))}"
                    f"{suggest(str(option), options)}"
                )


def keyword_options(fn: Callable[..., Any], exclude: Collection[str] = ()) -> set[str]:
    """The keyword-only parameter names of ``fn`` minus ``exclude``: what a settings section may set."""
    params = inspect.signature(fn).parameters.values()
    return {p.name for p in params if p.kind is p.KEYWORD_ONLY and p.name not in exclude}


def build_config(
    defaults: Mapping[str, Any],
    validate: Validator,
    path: str | Path | None = None,
    *,
    section: str | None = None,
    overrides: Sequence[str] = (),
    flags: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``defaults`` ← the file at ``path`` (its ``section``) ← ``flags`` ← ``overrides``, checked by
    ``validate`` after each layer; an error is prefixed with the layer (file path, ``--flag`` or
    ``--set item``).

    ``flags`` maps a dotted key to ``(flag name, value)`` pairs given on the command line
    (``{"darts.steps": ("--steps", 50)}``); they count as overrides named after their flag.
    """
    config = copy.deepcopy(dict(defaults))
    if path is not None:
        config = merge(config, read_config(path, section))
        _checked(validate, config, str(path))
    for key, (flag, value) in (flags or {}).items():
        config = set_value(config, key, value)
        _checked(validate, config, f"{flag} {value}")
    for item in overrides:
        config = set_key(config, item)
        _checked(validate, config, f"--set {item}")
    return config


def _checked(validate: Validator, config: Mapping[str, Any], source: str) -> None:
    try:
        validate(config)
    except NasbenchError as exc:
        raise NasbenchError(f"{source}: {exc}") from None


__all__ = [
    "Allowed",
    "Validator",
    "apply_overrides",
    "build_config",
    "check_keys",
    "keyword_options",
    "merge",
    "read_config",
    "set_key",
    "set_value",
]
