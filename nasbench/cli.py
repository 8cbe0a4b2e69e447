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


@command("export", "export an architecture (randomly initialised) to ONNX and verify it", _export_arguments)
def _export(args: argparse.Namespace) -> Any:
    from nasbench.deploy import verify_onnx

    space = nasbench.load_space(args.space)
    arch = space.architecture(args.arch) if args.arch else space.baseline()
    model = space.build(arch).eval()
    size = (1, 3, *args.input_size)
    path = nasbench.export_onnx(model, args.output, size)
    check = verify_onnx(model, path, size)
    return {"onnx": str(path), "architecture": str(arch), "max_abs_diff": check.max_abs_diff}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nasbench",
        description="Hardware-aware NAS for image-restoration networks.",
        epilog="examples:\n  nasbench spaces\n  nasbench space --space nafnet_sidd\n"
        "  nasbench count --space nafnet_tiny --arch 'enc1:naf_bn enc2:naf ...'\n"
        "  nasbench export --space lite_denoise --output lite.onnx --input-size 256 256",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"nasbench {nasbench.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_, help_text, arguments) in _COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
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
    handler = _COMMANDS[args.command][0]
    try:
        _print(handler(args), args.json)
    except NasbenchError as exc:
        if args.debug:
            raise
        print(f"nasbench {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


if __name__ == "__main__":
    sys.exit(main())
