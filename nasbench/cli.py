"""The ``nasbench`` command line: thin wrappers over the public API.

Bad input ends with one line on stderr naming the file, key and allowed values, and exit code 2
(``--debug`` shows the traceback instead).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

import nasbench
from nasbench.errors import NasbenchError

EXIT_VIOLATIONS = 1
EXIT_BAD_INPUT = 2

Handler = Callable[[argparse.Namespace], Any]
_COMMANDS: dict[str, tuple[Handler, str, Callable[[argparse.ArgumentParser], None]]] = {}


def command(name: str, help: str, arguments: Callable[[argparse.ArgumentParser], None] = lambda p: None):
    """Register a sub-command; the handler returns a JSON-able result that is printed."""

    def decorate(handler: Handler) -> Handler:
        _COMMANDS[name] = (handler, help, arguments)
        return handler

    return decorate


def _space_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--space", required=True, metavar="NAME_OR_YAML", help="built-in space name or YAML file")


def _arch_arguments(parser: argparse.ArgumentParser) -> None:
    _space_argument(parser)
    parser.add_argument("--arch", default=None, help="architecture string (default: the space's baseline)")
    parser.add_argument("--input-size", type=int, nargs=2, default=(256, 256), metavar=("H", "W"))


@command("blocks", "list the registered blocks")
def _blocks(args: argparse.Namespace) -> Any:
    from nasbench.blocks import block_info

    return {
        name: {
            "options": {k: repr(v) for k, v in block_info(name).options.items()},
            "summary": block_info(name).summary,
        }
        for name in nasbench.list_blocks()
    }


@command("spaces", "list the built-in search spaces")
def _spaces(args: argparse.Namespace) -> Any:
    return {name: nasbench.load_space(name).description for name in nasbench.list_spaces()}


@command("models", "list the zoo models")
def _models(args: argparse.Namespace) -> Any:
    return nasbench.list_models()


@command("space", "show a search space: positions, channels, resolution, candidates", _space_argument)
def _space(args: argparse.Namespace) -> Any:
    space = nasbench.load_space(args.space)
    if args.json:
        return space.to_dict()
    print(space.describe())
    return None


@command("count", "parameters and MACs of an architecture", _arch_arguments)
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


def _export_arguments(parser: argparse.ArgumentParser) -> None:
    _arch_arguments(parser)
    parser.add_argument("--output", required=True, metavar="FILE.onnx", help="where to write the ONNX file")
    parser.add_argument("--no-fold", action="store_true", help="keep BatchNorm layers (default: fold them)")


@command("export", "export an architecture (randomly initialised) to ONNX and verify it", _export_arguments)
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
)
def _check_ops(args: argparse.Namespace) -> Any:
    violations = nasbench.check_operators(args.onnx, args.allowed)
    result = [{"node": v.node, "op_type": v.op_type, "reason": v.reason} for v in violations]
    if violations:
        _print(result if args.json else [f"{v.node}: {v.reason}" for v in violations], args.json)
        raise Violations(f"{args.onnx}: {len(violations)} operator(s) not allowed by {args.allowed}")
    return {"onnx": args.onnx, "allowed": args.allowed, "violations": 0}


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
    _protocol_arguments(parser)


@command("profile", "measure a latency table for a space on this CPU (resumable)", _profile_arguments)
def _profile(args: argparse.Namespace) -> Any:
    from pathlib import Path

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
    )
    table.save(output)
    return {"table": str(output), "blocks": len(table.blocks), "skeletons": len(table.skeletons)}


def _validate_arguments(parser: argparse.ArgumentParser) -> None:
    _space_argument(parser)
    parser.add_argument("--table", required=True, metavar="TABLE.yaml", help="latency table to validate")
    parser.add_argument("--n", type=int, default=30, help="random architectures to measure (default 30)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--input-size", type=int, nargs=2, default=None, metavar=("H", "W"))
    parser.add_argument("--output", required=True, metavar="DIR", help="writes validation.csv/.json/.png")
    parser.add_argument(
        "--runs", type=int, default=None, help="timed runs per network per round (default: the table's)"
    )
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default: the table's)")


@command("latency validate", "predicted vs measured latency of random architectures", _validate_arguments)
def _latency_validate(args: argparse.Namespace) -> Any:
    from nasbench.latency import LatencyTable
    from nasbench.latency.validate import validate

    space = nasbench.load_space(args.space)
    table = LatencyTable.load(args.table)
    overrides = {k: v for k, v in (("runs", args.runs), ("rounds", args.rounds)) if v is not None}
    report = validate(space, table, args.n, args.input_size, seed=args.seed, **overrides)
    report.save(args.output)
    return {**report.metrics, "output": args.output}


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
    "latency import", "turn a profile measured elsewhere (e.g. on a phone) into a latency table", _import_arguments
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


def _quickstart_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", default="runs/quickstart", metavar="DIR", help="where artifacts go")
    parser.add_argument("--engine", default="darts", help="search engine (darts)")


@command("quickstart", "the whole pipeline on the built-in photographs, in a few minutes", _quickstart_arguments)
def _quickstart(args: argparse.Namespace) -> Any:
    from nasbench.quickstart import quickstart
    from nasbench.search.summary import format_summary

    summary = quickstart(args.output, engine=args.engine)
    if args.json:
        return summary
    print(format_summary(summary))
    print(f"artifacts: {args.output} (summary.json, architecture.txt, history.csv, plots, baseline/found .pt/.onnx)")
    return None


def _darts_arguments(parser: argparse.ArgumentParser) -> None:
    _space_argument(parser)
    parser.add_argument("--table", required=True, metavar="TABLE.yaml", help="latency table covering the space")
    parser.add_argument("--output", required=True, metavar="DIR", help="checkpoints, history, plots, architecture")
    parser.add_argument("--input-size", type=int, nargs=2, default=None, metavar=("H", "W"))
    parser.add_argument("--task", default="denoise", help="built-in data: denoise, deblur_motion, deblur_defocus")
    parser.add_argument("--crop", type=int, default=64)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--warmup-steps", type=int, default=200)
    parser.add_argument("--mu", type=float, default=0.5, help="latency weight")
    parser.add_argument("--mode", choices=["all", "sampled"], default="all")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint in --output")


@command("search darts", "entropy-regularised DARTS on the built-in data", _darts_arguments)
def _search_darts(args: argparse.Namespace) -> Any:
    from nasbench.latency import LatencyTable
    from nasbench.search import darts
    from nasbench.train import builtin_data

    space = nasbench.load_space(args.space)
    table = LatencyTable.load(args.table)
    train, _ = builtin_data(args.task, crop=args.crop)
    result = darts(
        space,
        train,
        table,
        input_size=args.input_size,
        output=args.output,
        resume=args.resume,
        steps=args.steps,
        warmup_steps=args.warmup_steps,
        mu=args.mu,
        mode=args.mode,
    )
    result.save(args.output)
    return {"architecture": str(result.architecture), "output": args.output}


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


@command("saliency", "zero-cost saliency of every block of a (trained) baseline network", _saliency_arguments)
def _saliency(args: argparse.Namespace) -> Any:
    from pathlib import Path

    from nasbench.search.saliency import DEFAULT_METRICS, plot_saliency, protect, saliency
    from nasbench.train import builtin_data, load_checkpoint

    space = nasbench.load_space(args.space)
    model = space.build(space.baseline())
    if args.weights:
        state = load_checkpoint(args.weights)
        try:
            model.load_state_dict(state.get("model", state))
        except RuntimeError as exc:
            raise NasbenchError(f"{args.weights}: weights do not fit the baseline of {space.name!r} ({exc})") from None
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


def _restore_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="IN", help="degraded image (PNG, JPEG, TIFF; 8 or 16 bit)")
    parser.add_argument("output", metavar="OUT.png", help="restored 8-bit PNG")
    parser.add_argument("--model", required=True, help="zoo model name (nasbench models)")
    parser.add_argument("--weights", default=None, help="state dict or nasbench checkpoint (.pt)")
    parser.add_argument("--tile", type=int, default=256, help="tile side in px (default 256)")
    parser.add_argument("--overlap", type=int, default=32, help="overlap between tiles in px (default 32)")
    parser.add_argument("--batch", type=int, default=1, help="tiles per forward pass (default 1)")


@command("restore", "restore an image of any size with overlapping, blended tiles", _restore_arguments)
def _restore(args: argparse.Namespace) -> Any:
    from nasbench.deploy import restore_file
    from nasbench.train import load_checkpoint

    model = nasbench.create_model(args.model)
    if args.weights:
        state = load_checkpoint(args.weights)
        model.load_state_dict(state.get("model", state))
    restore_file(model.eval(), args.input, args.output, tile=args.tile, overlap=args.overlap, batch=args.batch)
    return {"output": args.output}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nasbench",
        description="Hardware-aware NAS for image-restoration networks.",
        epilog="examples:\n  nasbench spaces\n  nasbench space --space nafnet_sidd\n"
        "  nasbench count --space nafnet_tiny --arch 'enc1:naf_bn enc2:naf ...'\n"
        "  nasbench export --space lite_denoise --output lite.onnx --input-size 256 256\n"
        "  nasbench profile --space nafnet_sidd --input-size 256 256 --output profiles/sidd.yaml\n"
        "  nasbench latency validate --space nafnet_sidd --table profiles/sidd.yaml --n 30 --output runs/val\n"
        "  nasbench quickstart --output runs/quickstart",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"nasbench {nasbench.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    groups: dict[str, argparse._SubParsersAction] = {}
    for name, (_, help_text, arguments) in _COMMANDS.items():
        group, _, leaf = name.rpartition(" ")
        if group and group not in groups:
            gp = sub.add_parser(group, help=f"{group} commands", description=f"{group} commands")
            groups[group] = gp.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
        p = (groups[group] if group else sub).add_parser(leaf, help=help_text, description=help_text)
        p.set_defaults(handler_name=name)
        p.add_argument("--json", action="store_true", help="print a machine-readable JSON result")
        p.add_argument("--debug", action="store_true", help="show a traceback on errors")
        arguments(p)
    return parser


def _print(result: Any, as_json: bool) -> None:
    if result is None:
        return
    if as_json:
        print(json.dumps(result, indent=2))
    elif isinstance(result, dict):
        width = max((len(str(k)) for k in result), default=0)
        for key, value in result.items():
            shown = value if not isinstance(value, dict) else value.get("summary", json.dumps(value))
            print(f"{key:<{width}}  {shown}")
    elif isinstance(result, list):
        print("\n".join(map(str, result)))
    else:
        print(result)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = _COMMANDS[args.handler_name][0]
    try:
        _print(handler(args), args.json)
    except Violations as exc:
        print(f"nasbench {args.handler_name}: {exc}", file=sys.stderr)
        return EXIT_VIOLATIONS
    except NasbenchError as exc:
        if args.debug:
            raise
        print(f"nasbench {args.handler_name}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


if __name__ == "__main__":
    sys.exit(main())
