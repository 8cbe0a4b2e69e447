"""The ``nasbench`` command line: thin wrappers over the public API.

Bad input ends with one line on stderr naming the file, key and allowed values, and exit code 2
(``--debug`` shows the traceback instead).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nasbench
from nasbench.errors import NasbenchError

EXIT_VIOLATIONS = 1
EXIT_BAD_INPUT = 2

Handler = Callable[[argparse.Namespace], Any]
Arguments = Callable[[argparse.ArgumentParser], None]


@dataclass(frozen=True)
class Command:
    """A sub-command: its handler (returns a JSON-able result that is printed), help and examples."""

    handler: Handler
    help: str
    arguments: Arguments
    examples: tuple[str, ...]


_COMMANDS: dict[str, Command] = {}


def command(name: str, help: str, arguments: Arguments = lambda p: None, examples: Sequence[str] = ()):
    """Register a sub-command ``name`` (``"search darts"`` nests under ``search``); ``examples`` are
    shown by ``--help``."""

    def decorate(handler: Handler) -> Handler:
        _COMMANDS[name] = Command(handler, help, arguments, tuple(examples))
        return handler

    return decorate


# ---------------------------------------------------------------------- shared arguments
def _space_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--space", required=True, metavar="NAME_OR_YAML", help="built-in space name or YAML file")


def _arch_arguments(parser: argparse.ArgumentParser) -> None:
    _space_argument(parser)
    parser.add_argument("--arch", default=None, help="architecture string (default: the space's baseline)")
    parser.add_argument("--input-size", type=int, nargs=2, default=(256, 256), metavar=("H", "W"))


def _config_arguments(parser: argparse.ArgumentParser) -> None:
    """``--config FILE [--section NAME] --set KEY=VALUE ...`` (nasbench.config)."""
    group = parser.add_argument_group("settings (defaults ← --config file ← flags ← --set)")
    group.add_argument("--config", default=None, metavar="FILE.yaml", help="settings file (YAML mapping)")
    group.add_argument("--section", default=None, metavar="NAME", help="use this top-level section of the file")
    group.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one setting, e.g. darts.mu=1.0 (repeatable; VALUE is YAML)",
    )
    group.add_argument("--show-settings", action="store_true", help="print the resolved settings and stop")


def _setting(parser: argparse.ArgumentParser, flag: str, key: str, **kwargs: Any) -> None:
    """A flag that sets settings key ``key`` (dotted) when given; it counts as an override named after it."""
    if "choices" not in kwargs:
        kwargs.setdefault("metavar", flag.lstrip("-").replace("-", "_").upper())
    parser.add_argument(flag, dest=f"cfg {key} {flag}", default=None, **kwargs)


def _settings(args: argparse.Namespace, defaults: Mapping[str, Any], validate: Callable[[Any], object]) -> dict:
    """The command's settings: ``defaults`` ← ``--config`` ← flags made with :func:`_setting` ← ``--set``."""
    from nasbench.config import build_config

    flags = {}
    for dest, value in vars(args).items():
        if dest.startswith("cfg ") and value is not None:
            _, key, flag = dest.split(" ")
            flags[key] = (flag, list(value) if isinstance(value, tuple) else value)
    return build_config(defaults, validate, args.config, section=args.section, overrides=args.overrides, flags=flags)


class ShowSettings(Exception):
    """``--show-settings``: the resolved settings are the result; nothing runs."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        super().__init__("show settings")
        self.settings = dict(settings)


def _resolved(args: argparse.Namespace, defaults: Mapping[str, Any], validate: Callable[[Any], object]) -> dict:
    settings = _settings(args, defaults, validate)
    if args.show_settings:
        raise ShowSettings(settings)
    return settings


def _data_arguments(parser: argparse.ArgumentParser) -> None:
    _setting(parser, "--task", "data.task", help="built-in data: denoise, deblur_motion, deblur_defocus")
    _setting(parser, "--crop", "data.crop", type=int, metavar="PX", help="training crop side in px")


def _network_arguments(parser: argparse.ArgumentParser, role: str, weights: str) -> None:
    """``--ROLE MODEL`` (zoo) or ``--ROLE-space SPACE [--ROLE-arch ARCH]``, and ``--ROLE-weights``."""
    name = f"--{role}" if role != "net" else "--model"
    prefix = f"--{role}-" if role != "net" else "--"
    parser.add_argument(name, dest=f"{role}_model", default=None, metavar="MODEL", help=f"{role}: a zoo model")
    parser.add_argument(
        f"{prefix}space", dest=f"{role}_space", default=None, metavar="NAME_OR_YAML", help=f"{role}: a search space"
    )
    parser.add_argument(
        f"{prefix}arch",
        dest=f"{role}_arch",
        default=None,
        metavar="ARCH",
        help="architecture string (default: the baseline)",
    )
    parser.add_argument(f"{prefix}weights", dest=f"{role}_weights", default=None, metavar="PT", help=weights)


def _network(args: argparse.Namespace, role: str):  # noqa: ANN202 (nn.Module, imported lazily)
    """The network named by :func:`_network_arguments` (``role``), with its weights if given."""
    model_name, space_name = getattr(args, f"{role}_model"), getattr(args, f"{role}_space")
    name = f"--{role}" if role != "net" else "--model"
    prefix = f"--{role}-" if role != "net" else "--"
    if (model_name is None) == (space_name is None):
        raise NasbenchError(f"give exactly one of {name} MODEL (nasbench models) or {prefix}space SPACE")
    if model_name is not None:
        model, what = nasbench.create_model(model_name), f"model {model_name!r}"
    else:
        space = nasbench.load_space(space_name)
        arch_text = getattr(args, f"{role}_arch")
        arch = space.architecture(arch_text) if arch_text else space.baseline()
        model, what = space.build(arch), f"architecture {arch} of {space.name!r}"
    if getattr(args, f"{role}_weights"):
        _load_weights(model, getattr(args, f"{role}_weights"), what)
    return model, what


def _load_weights(model: Any, path: str, what: str) -> None:
    """Load a state dict or a nasbench checkpoint (its ``model`` entry) into ``model``; one-line error."""
    from nasbench.train import load_checkpoint

    state = load_checkpoint(path)
    try:
        model.load_state_dict(state.get("model", state))
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())[:240]
        raise NasbenchError(f"{path}: weights do not fit {what} ({detail})") from None


# ---------------------------------------------------------------------- listing and counting
@command("blocks", "list the registered blocks", examples=["nasbench blocks", "nasbench blocks --json"])
def _blocks(args: argparse.Namespace) -> Any:
    from nasbench.blocks import block_info

    return {
        name: {
            "options": {k: repr(v) for k, v in block_info(name).options.items()},
            "summary": block_info(name).summary,
        }
        for name in nasbench.list_blocks()
    }


@command("spaces", "list the built-in search spaces", examples=["nasbench spaces"])
def _spaces(args: argparse.Namespace) -> Any:
    return {name: nasbench.load_space(name).description for name in nasbench.list_spaces()}


@command("models", "list the zoo models", examples=["nasbench models"])
def _models(args: argparse.Namespace) -> Any:
    return nasbench.list_models()


@command(
    "space",
    "show a search space: positions, channels, resolution, candidates",
    _space_argument,
    ["nasbench space --space nafnet_tiny", "nasbench space --space my_space.yaml --json"],
)
def _space(args: argparse.Namespace) -> Any:
    space = nasbench.load_space(args.space)
    if args.json:
        return space.to_dict()
    print(space.describe())
    return None


@command(
    "count",
    "parameters and MACs of an architecture",
    _arch_arguments,
    ["nasbench count --space nafnet_sidd", "nasbench count --space nafnet_tiny --arch 'enc1:naf_bn enc2:naf ...'"],
)
def _count(args: argparse.Namespace) -> Any:
    space = nasbench.load_space(args.space)
    arch = space.architecture(args.arch) if args.arch else space.baseline()
    model = space.build(arch)
    size = (3, *args.input_size)
    return {
        "architecture": str(arch),
        "params": nasbench.count_params(model),
        "macs": nasbench.count_macs(model, size),
        "macs_conv_only": nasbench.count_macs(model, size, convention="conv"),
        "input_size": list(size),
    }


# ---------------------------------------------------------------------- deployment
def _export_arguments(parser: argparse.ArgumentParser) -> None:
    _arch_arguments(parser)
    parser.add_argument("--output", required=True, metavar="FILE.onnx", help="where to write the ONNX file")
    parser.add_argument("--no-fold", action="store_true", help="keep BatchNorm layers (default: fold them)")


@command(
    "export",
    "export an architecture (randomly initialised) to ONNX and verify it",
    _export_arguments,
    ["nasbench export --space lite_denoise --output lite.onnx --input-size 256 256"],
)
def _export(args: argparse.Namespace) -> Any:
    from nasbench.deploy import verify_onnx

    space = nasbench.load_space(args.space)
    arch = space.architecture(args.arch) if args.arch else space.baseline()
    model = space.build(arch).eval()
    if not args.no_fold:
        model = nasbench.fold_batchnorm(model)
    size = (1, 3, *args.input_size)
    path = nasbench.export_onnx(model, args.output, size)
    check = verify_onnx(model, path, size)
    return {"onnx": str(path), "architecture": str(arch), "max_abs_diff": check.max_abs_diff}


class Violations(NasbenchError):
    """Not bad input: the checked file breaks the allow-list (exit code 1)."""


def _check_ops_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("onnx", metavar="MODEL.onnx", help="the ONNX file to check")
    parser.add_argument(
        "--allowed",
        default="npu_native",
        metavar="NAME_OR_YAML",
        help="built-in allow-list (npu_native, tflite_gpu, nnapi) or a YAML file (default npu_native)",
    )


@command(
    "check-ops",
    "check an ONNX file's operators against a device allow-list (exit 1 on violations)",
    _check_ops_arguments,
    ["nasbench check-ops lite.onnx", "nasbench check-ops model.onnx --allowed tflite_gpu --json"],
)
def _check_ops(args: argparse.Namespace) -> Any:
    violations = nasbench.check_operators(args.onnx, args.allowed)
    result = [{"node": v.node, "op_type": v.op_type, "reason": v.reason} for v in violations]
    if violations:
        _print(result if args.json else [f"{v.node}: {v.reason}" for v in violations], args.json)
        raise Violations(f"{args.onnx}: {len(violations)} operator(s) not allowed by {args.allowed}")
    return {"onnx": args.onnx, "allowed": args.allowed, "violations": 0}


# ---------------------------------------------------------------------- latency
def _protocol_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads (default 1)")
    parser.add_argument(
        "--opt-level",
        default="all",
        choices=["disable", "basic", "extended", "layout", "all"],
        help="onnxruntime graph optimisation level (default all)",
    )
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs per network (default 3)")
    parser.add_argument("--runs", type=int, default=10, help="timed runs per network per round (default 10)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")


def _protocol(args: argparse.Namespace):  # noqa: ANN202
    from nasbench.latency import Protocol

    return Protocol(
        threads=args.threads, graph_optimization=args.opt_level, warmup=args.warmup, runs=args.runs, rounds=args.rounds
    )


def _profile_arguments(parser: argparse.ArgumentParser) -> None:
    _space_argument(parser)
    parser.add_argument("--input-size", type=int, nargs=2, default=(256, 256), metavar=("H", "W"))
    parser.add_argument("--output", required=True, metavar="TABLE.yaml", help="the latency table to write")
    parser.add_argument("--device", default=None, help="device name for the metadata (default: this CPU)")
    parser.add_argument("--base", default=None, metavar="TABLE.yaml", help="reuse the entries of this table")
    parser.add_argument("--context", action="store_true", help="time every block inside the skeleton instead of alone")
    _protocol_arguments(parser)


@command(
    "profile",
    "measure a latency table for a space on this CPU (resumable)",
    _profile_arguments,
    ["nasbench profile --space nafnet_sidd --input-size 256 256 --output profiles/sidd.yaml"],
)
def _profile(args: argparse.Namespace) -> Any:
    from nasbench.latency import LatencyTable

    space = nasbench.load_space(args.space)
    output = Path(args.output)
    base = LatencyTable.load(args.base) if args.base else None
    table = LatencyTable.profile(
        space,
        tuple(args.input_size),
        _protocol(args),
        device=args.device,
        work_dir=output.with_name(output.name + ".work"),
        base=base,
        context=args.context,
    )
    table.save(output)
    return {"table": str(output), "blocks": len(table.blocks), "skeletons": len(table.skeletons)}


def _end_to_end_arguments(parser: argparse.ArgumentParser, table_help: str) -> None:
    """The arguments of the commands that time networks end to end against a table."""
    _space_argument(parser)
    parser.add_argument("--table", required=True, metavar="TABLE.yaml", help=table_help)
    parser.add_argument("--input-size", type=int, nargs=2, default=None, metavar=("H", "W"))
    parser.add_argument(
        "--runs", type=int, default=None, help="timed runs per network per round (default: the table's)"
    )
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default: the table's)")


def _timing_overrides(args: argparse.Namespace) -> dict[str, int]:
    return {k: v for k, v in (("runs", args.runs), ("rounds", args.rounds)) if v is not None}


def _validate_arguments(parser: argparse.ArgumentParser) -> None:
    _end_to_end_arguments(parser, "latency table to validate")
    parser.add_argument("--n", type=int, default=30, help="random architectures to measure (default 30)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", required=True, metavar="DIR", help="writes validation.csv/.json/.png")


@command(
    "latency validate",
    "predicted vs measured latency of random architectures",
    _validate_arguments,
    ["nasbench latency validate --space nafnet_sidd --table profiles/sidd.yaml --n 30 --output runs/val"],
)
def _latency_validate(args: argparse.Namespace) -> Any:
    from nasbench.latency import LatencyTable
    from nasbench.latency.validate import validate

    space = nasbench.load_space(args.space)
    table = LatencyTable.load(args.table)
    report = validate(space, table, args.n, args.input_size, seed=args.seed, **_timing_overrides(args))
    report.save(args.output)
    return {**report.metrics, "output": args.output}


def _calibrate_arguments(parser: argparse.ArgumentParser) -> None:
    _end_to_end_arguments(parser, "latency table to correct")
    parser.add_argument("--n", type=int, default=20, help="calibration architectures to measure (default 20)")
    parser.add_argument("--seed", type=int, default=1000, help="calibration sample seed (default 1000)")
    parser.add_argument("--grouping", default="block", help="entries scaled together: block (default), block_level")
    parser.add_argument("--output", required=True, metavar="TABLE.yaml", help="the corrected table to write")


@command(
    "latency calibrate",
    "fit a residual correction on end-to-end measurements and store it in the table",
    _calibrate_arguments,
    ["nasbench latency calibrate --space nafnet_sidd --table sidd.yaml --n 20 --output sidd_corrected.yaml"],
)
def _latency_calibrate(args: argparse.Namespace) -> Any:
    from nasbench.latency import LatencyTable
    from nasbench.latency.correction import calibrate

    space = nasbench.load_space(args.space)
    table = LatencyTable.load(args.table)
    corrected = calibrate(
        space, table, args.n, args.input_size, seed=args.seed, grouping=args.grouping, **_timing_overrides(args)
    )
    corrected.save(args.output)
    c = corrected.correction
    return {"table": args.output, "intercept_ms": c.intercept_ms, "scale": c.scale, **c.fit}


def _import_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("profile", metavar="PROFILE", help="the profile file (ORT JSON, TFLite output, CSV)")
    parser.add_argument("--format", required=True, help="ort_json, tflite or csv")
    parser.add_argument("--space", default=None, metavar="NAME_OR_YAML", help="the space the profiled network is from")
    parser.add_argument("--arch", default=None, help="the profiled architecture (default: the baseline)")
    parser.add_argument("--input-size", type=int, nargs=2, required=True, metavar=("H", "W"))
    parser.add_argument("--device", default=None, help="where the profile was measured, for the metadata")
    parser.add_argument("--skip-runs", type=int, default=0, help="drop this many warm-up runs (ORT JSON)")
    parser.add_argument("--output", required=True, metavar="TABLE.yaml", help="the latency table to write")
    parser.add_argument("--merge", default=None, metavar="TABLE.yaml", help="add the entries to this table")


@command(
    "latency import",
    "turn a profile measured elsewhere (e.g. on a phone) into a latency table",
    _import_arguments,
    ["nasbench latency import phone.txt --format tflite --space lite_denoise --input-size 256 256 --output phone.yaml"],
)
def _latency_import(args: argparse.Namespace) -> Any:
    from nasbench.latency import LatencyTable, import_profile

    space = nasbench.load_space(args.space) if args.space else None
    arch = (space.architecture(args.arch) if args.arch else space.baseline()) if space else None
    metadata = {"device": args.device} if args.device else None
    table = import_profile(
        args.profile, args.format, space, arch, tuple(args.input_size), metadata=metadata, skip_runs=args.skip_runs
    )
    if args.merge:
        table = LatencyTable.load(args.merge).merge(table)
    table.save(args.output)
    return {"table": args.output, "blocks": len(table.blocks), "skeletons": len(table.skeletons)}


# ---------------------------------------------------------------------- the pipelines
def _quickstart_arguments(parser: argparse.ArgumentParser) -> None:
    from nasbench.quickstart import ENGINES

    parser.add_argument("--output", default="runs/quickstart", metavar="DIR", help="where artifacts go")
    parser.add_argument("--engine", default="darts", choices=list(ENGINES), help="search engine (default darts)")
    _config_arguments(parser)


@command(
    "quickstart",
    "the whole pipeline on the built-in photographs, in a few minutes",
    _quickstart_arguments,
    [
        "nasbench quickstart --output runs/quickstart",
        "nasbench quickstart --engine mobo --output runs/qs_mobo",
        "nasbench quickstart --set darts.mu=1.0 --set finetune.steps=400 --output runs/qs_mu1",
        "nasbench quickstart --engine mobo --show-settings",
    ],
)
def _quickstart(args: argparse.Namespace) -> Any:
    from nasbench.quickstart import get_engine, quickstart
    from nasbench.search.summary import format_summary

    engine = get_engine(args.engine)
    settings = _resolved(args, engine.settings, engine.validate)
    summary = quickstart(args.output, engine=args.engine, settings=settings)
    if args.json:
        return summary
    print(format_summary(summary))
    print(f"artifacts: {args.output} (summary.json, architecture.txt, history.csv, plots, baseline/found .pt/.onnx)")
    print(f"report: nasbench report {args.output}")
    return None


def _search_arguments(parser: argparse.ArgumentParser) -> None:
    _space_argument(parser)
    parser.add_argument("--table", required=True, metavar="TABLE.yaml", help="latency table covering the space")
    parser.add_argument("--output", required=True, metavar="DIR", help="checkpoints, history, plots, architecture")
    parser.add_argument("--resume", action="store_true", help="continue the run in --output")
    _data_arguments(parser)


def _darts_arguments(parser: argparse.ArgumentParser) -> None:
    _search_arguments(parser)
    parser.add_argument("--input-size", type=int, nargs=2, default=None, metavar=("H", "W"))
    _setting(parser, "--steps", "darts.steps", type=int, metavar="N", help="search steps (default 1000)")
    _setting(parser, "--warmup-steps", "darts.warmup_steps", type=int, metavar="N", help="weights-only steps")
    _setting(parser, "--mu", "darts.mu", type=float, help="latency weight (default 0.5)")
    _setting(parser, "--mode", "darts.mode", choices=["all", "sampled"], help="supernet mode (default all)")
    _config_arguments(parser)


SEARCH_DARTS_DEFAULTS: dict[str, Any] = {"data": {"task": "denoise", "crop": 64}, "darts": {}}


def _check_search_darts(settings: Mapping[str, Any]) -> None:
    from nasbench.config import check_keys
    from nasbench.quickstart import DARTS_SECTIONS

    check_keys(settings, {k: DARTS_SECTIONS[k] for k in SEARCH_DARTS_DEFAULTS})


@command(
    "search darts",
    "entropy-regularised DARTS on the built-in data (writes the architecture, history, plots)",
    _darts_arguments,
    [
        "nasbench search darts --space nafnet_tiny --table nasbench/profiles/tables/nafnet_tiny_64_t1.yaml "
        "--output runs/darts --steps 300 --mu 1.0",
        "nasbench search darts --space nafnet_tiny --table T.yaml --output runs/darts --config run.yaml "
        "--set darts.lambda_end=0.5",
    ],
)
def _search_darts(args: argparse.Namespace) -> Any:
    from nasbench.latency import LatencyTable
    from nasbench.search import darts
    from nasbench.train import builtin_data

    settings = _resolved(args, SEARCH_DARTS_DEFAULTS, _check_search_darts)
    space = nasbench.load_space(args.space)
    table = LatencyTable.load(args.table)
    train, _ = builtin_data(**settings["data"])
    result = darts(
        space, train, table, input_size=args.input_size, output=args.output, resume=args.resume, **settings["darts"]
    )
    result.save(args.output)
    return {"architecture": str(result.architecture), "output": args.output}


def _mobo_arguments(parser: argparse.ArgumentParser) -> None:
    _search_arguments(parser)
    _setting(
        parser,
        "--teacher",
        "teacher",
        type=lambda path: {"checkpoint": path},
        metavar="PT",
        help="weights of a trained baseline network (default: train it here, teacher.steps)",
    )
    _setting(
        parser,
        "--latency-input",
        "latency_input",
        type=int,
        nargs=2,
        metavar=("H", "W"),
        help="size latency is predicted and measured at (default: the table's)",
    )
    _setting(
        parser,
        "--storage",
        "mobo.storage",
        metavar="URL",
        help="Optuna storage: a journal file path or a database URL (sqlite:///s.db, postgresql://...); "
        "default DIR/study.journal",
    )
    _setting(parser, "--study-name", "mobo.study_name", metavar="NAME", help="study name (default mobo-SPACE)")
    _setting(parser, "--n-trials", "mobo.n_evaluations", type=int, metavar="N", help="complete evaluations to reach")
    _setting(
        parser, "--objectives", "mobo.objectives", nargs="+", metavar="NAME", help="default psnr_drop_db latency_ms"
    )
    _setting(parser, "--protect", "saliency.protect", type=int, metavar="K", help="most salient positions kept")
    _config_arguments(parser)


def _search_mobo_defaults() -> dict[str, Any]:
    from nasbench.quickstart import MOBO_SETTINGS

    return {k: v for k, v in MOBO_SETTINGS.items() if k not in ("space", "profile", "latency_input")}


def _check_search_mobo(settings: Mapping[str, Any]) -> None:
    from nasbench.search.mobo_pipeline import resolve_settings

    resolve_settings({"latency_input": [1, 1], **settings})


@command(
    "search mobo",
    "saliency-guided, training-free multi-objective BO (teacher → saliency → surrogates → BO → knee, "
    "trained and timed against the baseline)",
    _mobo_arguments,
    [
        "nasbench search mobo --space nafnet_tiny --table nasbench/profiles/tables/nafnet_tiny_64_t1.yaml "
        "--output runs/mobo --n-trials 40",
        "nasbench search mobo --space nafnet_tiny --table T.yaml --output runs/mobo --storage sqlite:///runs/mobo.db",
        "nasbench search mobo --space nafnet_gopro --table T.yaml --output runs/gopro "
        "--config examples/deblur_mobo.yaml --section paper --teacher teacher.pt",
    ],
)
def _search_mobo(args: argparse.Namespace) -> Any:
    from nasbench.latency import LatencyTable
    from nasbench.search.mobo_pipeline import mobo_pipeline
    from nasbench.search.summary import format_summary

    settings = _resolved(args, _search_mobo_defaults(), _check_search_mobo)
    space = nasbench.load_space(args.space)
    table = LatencyTable.load(args.table)
    settings.setdefault("latency_input", list(table.input_size))
    result = mobo_pipeline(space, table, settings, args.output, resume=args.resume, extra_settings={"engine": "mobo"})
    if args.json:
        return result.summary
    print(format_summary(result.summary))
    print(f"artifacts: {args.output}; report: nasbench report {args.output}")
    return None


def _saliency_arguments(parser: argparse.ArgumentParser) -> None:
    _space_argument(parser)
    parser.add_argument("--output", required=True, metavar="DIR", help="saliency.csv and saliency.png go here")
    parser.add_argument("--weights", default=None, help="trained baseline weights (.pt state dict or checkpoint)")
    parser.add_argument("--skip-init", type=float, default=None, help="score a copy with NAFNet β/γ set to this")
    parser.add_argument("--task", default="denoise", help="built-in data: denoise, deblur_motion, deblur_defocus")
    parser.add_argument("--crop", type=int, default=64)
    parser.add_argument("--batches", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--metrics", nargs="+", default=None, help="default: all six zero-cost metrics")
    parser.add_argument("--protect", type=int, default=1, help="how many of the most salient positions to mark")


@command(
    "saliency",
    "zero-cost saliency of every block of a (trained) baseline network",
    _saliency_arguments,
    [
        "nasbench saliency --space nafnet_tiny --weights runs/qs_mobo/teacher.pt --output runs/sal",
        "nasbench saliency --space nafnet_tiny --skip-init 1.0 --metrics snip synflow --output runs/sal",
    ],
)
def _saliency(args: argparse.Namespace) -> Any:
    from nasbench.search.saliency import DEFAULT_METRICS, plot_saliency, protect, saliency
    from nasbench.train import builtin_data

    space = nasbench.load_space(args.space)
    model = space.build(space.baseline())
    if args.weights:
        _load_weights(model, args.weights, f"the baseline of {space.name!r}")
    elif args.skip_init is None:
        raise NasbenchError("saliency: give --weights of a trained network, or --skip-init for an untrained one")
    train, _ = builtin_data(args.task, crop=args.crop, length=max(64, args.batches * args.batch_size))
    scores = saliency(
        model,
        train,
        args.metrics or DEFAULT_METRICS,
        batches=args.batches,
        batch_size=args.batch_size,
        skip_init=args.skip_init,
    )
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    scores.to_csv(out / "saliency.csv")
    plot_saliency(scores, out / "saliency.png", protected=args.protect)
    return {"protected": protect(scores, args.protect), "output": str(out)}


# ---------------------------------------------------------------------- training
def _training_arguments(parser: argparse.ArgumentParser, section: str) -> None:
    parser.add_argument("--output", required=True, metavar="DIR", help="last.pt (checkpoint), the weights, a summary")
    parser.add_argument("--resume", action="store_true", help="continue from DIR/last.pt")
    _data_arguments(parser)
    _setting(parser, "--steps", f"{section}.steps", type=int, metavar="N", help="optimizer steps")
    _setting(parser, "--batch-size", f"{section}.batch_size", type=int, metavar="N", help="samples per step")
    _setting(parser, "--lr", f"{section}.lr", type=float, help="learning rate")
    _config_arguments(parser)


def _training_validator(section: str, fn: Callable[..., Any]) -> Callable[[Mapping[str, Any]], None]:
    from nasbench.config import check_keys, keyword_options

    allowed = {"data": None, section: keyword_options(fn, {"checkpoint_dir", "resume", "progress", "log"})}
    return lambda settings: check_keys(settings, allowed)


def _train_summary(result: Any, model: Any, what: str, out: Path, name: str, seconds: float) -> dict[str, Any]:
    import torch

    torch.save(model.state_dict(), out / f"{name}.pt")
    summary = {
        "network": what,
        "params": nasbench.count_params(model),
        "steps": len(result.history),
        "final_loss": result.losses[-1] if result.losses else None,
        **result.metrics,
        "weights": str(out / f"{name}.pt"),
        "checkpoint": str(result.checkpoint) if result.checkpoint else None,
        "seconds": round(seconds, 1),
    }
    (out / f"{name}.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def _distill_arguments(parser: argparse.ArgumentParser) -> None:
    _network_arguments(parser, "teacher", "trained teacher weights (.pt state dict or checkpoint; required)")
    _network_arguments(parser, "student", "initial student weights (default: fresh initialisation)")
    _training_arguments(parser, "distill")
    _setting(parser, "--alpha", "distill.alpha", type=float, help="weight of the teacher term in [0, 1]")


DISTILL_DEFAULTS: dict[str, Any] = {"data": {"task": "denoise", "sigma": 25, "crop": 64}, "distill": {"steps": 1000}}
FINETUNE_DEFAULTS: dict[str, Any] = {"data": {"task": "denoise", "sigma": 25, "crop": 64}, "finetune": {"steps": 1000}}


@command(
    "distill",
    "train a student network to match a frozen, trained teacher and the clean targets",
    _distill_arguments,
    [
        "nasbench distill --teacher nafnet_tiny --teacher-weights runs/qs/baseline_train/last.pt "
        "--student lite_denoise_net --steps 800 --output runs/kd",
        "nasbench distill --teacher heavy_denoise_net --teacher-weights heavy.pt --student lite_denoise_net "
        "--output runs/kd --set 'distill.crop_schedule=[[400, 48, 8], [800, 64, 8]]'",
    ],
)
def _distill(args: argparse.Namespace) -> Any:
    import time

    import torch

    from nasbench.train import builtin_data, distill

    settings = _resolved(args, DISTILL_DEFAULTS, _training_validator("distill", distill))
    if not args.teacher_weights:
        raise NasbenchError("distill: give --teacher-weights of a trained teacher (an untrained one teaches noise)")
    teacher, teacher_what = _network(args, "teacher")
    with torch.random.fork_rng(devices=[]):
        student, student_what = _network(args, "student")
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    train, val = builtin_data(**settings["data"])
    start = time.perf_counter()
    result = distill(
        student, teacher, train, val, checkpoint_dir=out, resume=args.resume, progress=True, **settings["distill"]
    )
    summary = _train_summary(result, student, student_what, out, "student", time.perf_counter() - start)
    return {**summary, "teacher": teacher_what, "teacher_metrics": nasbench.evaluate(teacher, val)}


def _finetune_arguments(parser: argparse.ArgumentParser) -> None:
    _network_arguments(parser, "net", "initial weights (default: fresh initialisation)")
    _training_arguments(parser, "finetune")


@command(
    "finetune",
    "train (or fine-tune) a network: an architecture of a space, or a zoo model, on the built-in data",
    _finetune_arguments,
    [
        'nasbench finetune --space nafnet_tiny --arch "$(cat runs/quickstart/architecture.txt)" --steps 800 '
        "--output runs/ft",
        "nasbench finetune --model lite_denoise_net --weights runs/kd/student.pt --lr 1e-4 --output runs/ft2",
    ],
)
def _finetune(args: argparse.Namespace) -> Any:
    import time

    from nasbench.train import builtin_data, finetune

    settings = _resolved(args, FINETUNE_DEFAULTS, _training_validator("finetune", finetune))
    model, what = _network(args, "net")
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    train, val = builtin_data(**settings["data"])
    start = time.perf_counter()
    result = finetune(model, train, val, checkpoint_dir=out, resume=args.resume, progress=True, **settings["finetune"])
    return _train_summary(result, model, what, out, "model", time.perf_counter() - start)


# ---------------------------------------------------------------------- results
def _report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory holding summary.json")
    parser.add_argument("--output", default=None, metavar="FILE.html", help="default RUN_DIR/report.html")


@command(
    "report",
    "a self-contained HTML report of a run (plots embedded as PNG)",
    _report_arguments,
    ["nasbench report runs/quickstart", "nasbench report runs/qs_mobo --output mobo.html"],
)
def _report(args: argparse.Namespace) -> Any:
    from nasbench.report import write_report

    report = write_report(args.run_dir, args.output)
    return {"report": str(report.path), "sections": report.sections, "omitted": report.omitted}


def _restore_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="IN", help="degraded image (PNG, JPEG, TIFF; 8 or 16 bit)")
    parser.add_argument("output", metavar="OUT.png", help="restored 8-bit PNG")
    parser.add_argument("--model", required=True, help="zoo model name (nasbench models)")
    parser.add_argument("--weights", default=None, help="state dict or nasbench checkpoint (.pt)")
    parser.add_argument("--tile", type=int, default=256, help="tile side in px (default 256)")
    parser.add_argument("--overlap", type=int, default=32, help="overlap between tiles in px (default 32)")
    parser.add_argument("--batch", type=int, default=1, help="tiles per forward pass (default 1)")


@command(
    "restore",
    "restore an image of any size with overlapping, blended tiles",
    _restore_arguments,
    ["nasbench restore noisy.png clean.png --model lite_denoise_net --weights runs/kd/student.pt --tile 256"],
)
def _restore(args: argparse.Namespace) -> Any:
    from nasbench.deploy import restore_file

    model = nasbench.create_model(args.model)
    if args.weights:
        _load_weights(model, args.weights, f"model {args.model!r}")
    restore_file(model.eval(), args.input, args.output, tile=args.tile, overlap=args.overlap, batch=args.batch)
    return {"output": args.output}


# ---------------------------------------------------------------------- the parser
def _epilog(examples: Sequence[str]) -> str | None:
    return "examples:\n" + "\n".join(f"  {e}" for e in examples) if examples else None


def build_parser() -> argparse.ArgumentParser:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="nasbench",
        description="Hardware-aware NAS for image-restoration networks. `nasbench COMMAND --help` shows a "
        "command's options and examples.",
        epilog=_epilog([c.examples[0] for c in _COMMANDS.values() if c.examples]),
        formatter_class=raw,
    )
    parser.add_argument("--version", action="version", version=f"nasbench {nasbench.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    groups: dict[str, argparse._SubParsersAction] = {}
    for name, cmd in _COMMANDS.items():
        group, _, leaf = name.rpartition(" ")
        if group and group not in groups:
            members = [c for n, c in _COMMANDS.items() if n.startswith(group + " ")]
            gp = sub.add_parser(
                group,
                help=f"{group} commands",
                description=f"{group} commands",
                epilog=_epilog([e for c in members for e in c.examples]),
                formatter_class=raw,
            )
            groups[group] = gp.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
        p = (groups[group] if group else sub).add_parser(
            leaf, help=cmd.help, description=cmd.help, epilog=_epilog(cmd.examples), formatter_class=raw
        )
        p.set_defaults(handler_name=name)
        p.add_argument("--json", action="store_true", help="print a machine-readable JSON result")
        p.add_argument("--debug", action="store_true", help="show a traceback on errors")
        cmd.arguments(p)
    return parser


def _print(result: Any, as_json: bool) -> None:
    if result is None:
        return
    if as_json:
        print(json.dumps(result, indent=2, default=str))
    elif isinstance(result, dict):
        width = max((len(str(k)) for k in result), default=0)
        for key, value in result.items():
            shown = value if not isinstance(value, dict) else value.get("summary", json.dumps(value, default=str))
            print(f"{key:<{width}}  {shown}")
    elif isinstance(result, list):
        print("\n".join(map(str, result)))
    else:
        print(result)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = _COMMANDS[args.handler_name].handler
    try:
        _print(handler(args), args.json)
    except ShowSettings as shown:
        print(json.dumps(shown.settings, indent=2, default=str) if args.json else _yaml(shown.settings), end="")
    except Violations as exc:
        print(f"nasbench {args.handler_name}: {exc}", file=sys.stderr)
        return EXIT_VIOLATIONS
    except NasbenchError as exc:
        if args.debug:
            raise
        print(f"nasbench {args.handler_name}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


def _yaml(settings: Mapping[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(dict(settings), sort_keys=False, default_flow_style=None)


if __name__ == "__main__":
    sys.exit(main())
