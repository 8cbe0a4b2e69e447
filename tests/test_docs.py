"""The docs cannot rot: every ```python block in docs/*.md and README.md runs, and what they name exists.

Blocks of one file run in order in one namespace (they read as one session), in a fresh directory per
file that holds links to the checkout's ``nasbench/``, ``profiles/``, ``search_spaces/`` and
``examples/`` (the docs run "from the top of a checkout"), with torch on one thread. All files run in
one child process, so the package is imported once and blocks that register blocks, metrics or fold
rules cannot leak into the other tests of the session. A block fenced ```python no-run is skipped and
must be listed in ``NO_RUN`` with its reason; pages of other work whose snippets are not smoke-sized
yet are listed in ``NOT_YET_SMOKE_SIZED``. Both lists fail when an entry goes stale.

Also checked: every ``nasbench ...`` line of a shell block parses with the CLI's own parser, every
command named in inline code exists, relative links and their anchors resolve, mkdocs.yml lists every
page, and every name of the API contract is importable from ``nasbench`` and documented in docs/api.md.

``python tests/test_docs.py [FILE ...]`` runs the snippets and prints each file's wall and CPU time.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINKED = ("nasbench", "profiles", "search_spaces", "examples")

# (file, first line of the block's code) → why it cannot run in CI. Keep this short.
NO_RUN: dict[tuple[str, str], str] = {
    ("docs/quickstart.md", "from nasbench.quickstart import quickstart"): (
        "the whole quickstart: profiles 21 block signatures and trains two networks 250 steps (about 3 min); "
        "tests/test_quickstart.py runs it small, and darts.md / custom-space.md run its pieces"
    ),
    ("docs/distributed.md", "# my_search.py — the same script runs alone (python my_search.py) or under torchrun"): (
        "a 300-step search meant for torchrun; tests/search/test_ddp.py runs the same darts call under "
        "torch.distributed.run with two real processes"
    ),
}


# Pages other work owns whose snippets are not smoke-sized yet; their blocks are not run until the
# entry is removed. Every entry must still have runnable blocks (else it is stale).
NOT_YET_SMOKE_SIZED: dict[str, str] = {}


@dataclass(frozen=True)
class Block:
    file: str  # relative to ROOT
    line: int  # 1-based line of the opening fence
    info: str  # the fence's info string, e.g. "python" or "python no-run"
    code: str

    @property
    def first_line(self) -> str:
        return next((line.strip() for line in self.code.splitlines() if line.strip()), "")


_FENCE = re.compile(r"^(`{3,})(.*)$")


def doc_files() -> list[Path]:
    return [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]


def blocks(path: Path) -> list[Block]:
    """Every fenced block of a Markdown file (fences of three or more backticks at line start)."""
    found: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, info, start = match.group(1), match.group(2).strip(), i
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].startswith(fence):
            body.append(lines[i])
            i += 1
        found.append(Block(str(path.relative_to(ROOT)), start + 1, info, "\n".join(body) + "\n"))
        i += 1
    return found


def python_blocks(path: Path) -> list[Block]:
    return [b for b in blocks(path) if b.info.split()[:1] == ["python"]]


def runnable(block: Block) -> bool:
    return "no-run" not in block.info.split()


# ---------------------------------------------------------------------------------------------- the child


def _prepare(workdir: Path) -> None:
    workdir.mkdir(parents=True)
    for name in LINKED:
        (workdir / name).symlink_to(ROOT / name, target_is_directory=True)


def run_files(files: list[str], base: Path) -> dict[str, dict]:
    """Run the runnable Python blocks of each file in order, in one namespace per file, in ``base/<n>``.

    Returns file → {"seconds", "blocks", "error"} where error is None or "line N: traceback".
    """
    import matplotlib

    matplotlib.use("Agg")
    import torch

    torch.set_num_threads(1)
    results: dict[str, dict] = {}
    here = Path.cwd()
    for n, name in enumerate(files):
        todo = [b for b in python_blocks(ROOT / name) if runnable(b)]
        workdir = base / f"{n:02d}-{Path(name).stem}"
        _prepare(workdir)
        namespace: dict = {"__name__": "__docs__"}
        error = None
        start, cpu = time.perf_counter(), time.process_time()
        os.chdir(workdir)
        try:
            for block in todo:
                began = time.perf_counter()
                try:
                    exec(compile(block.code, f"{name}:{block.line}", "exec"), namespace)  # noqa: S102
                    print(f"{name}:{block.line} {time.perf_counter() - began:.1f} s", file=sys.stderr, flush=True)
                except BaseException:  # noqa: BLE001 — report every failure, including SystemExit
                    error = f"block at line {block.line}:\n{traceback.format_exc()}"
                    break
        finally:
            os.chdir(here)
        results[name] = {
            "seconds": round(time.perf_counter() - start, 2),
            "cpu_seconds": round(time.process_time() - cpu, 2),
            "blocks": len(todo),
            "error": error,
        }
    return results


def _child(files: list[str], verbose: bool = False) -> dict[str, dict]:
    with tempfile.TemporaryDirectory(prefix="nasbench-docs-") as tmp:
        out = Path(tmp) / "results.json"
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
        proc = subprocess.run(
            [sys.executable, __file__, "--child", str(out), *files],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if verbose:
            print(proc.stdout, proc.stderr, sep="\n", file=sys.stderr)
        if not out.exists():
            raise AssertionError(f"docs runner died (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
        return json.loads(out.read_text())


# ---------------------------------------------------------------------------------------------- the tests


def files_with_code() -> list[str]:
    return [
        name
        for p in doc_files()
        if any(runnable(b) for b in python_blocks(p)) and (name := str(p.relative_to(ROOT))) not in NOT_YET_SMOKE_SIZED
    ]


def test_pages_not_yet_smoke_sized_are_still_listed_for_a_reason() -> None:
    stale = [name for name in NOT_YET_SMOKE_SIZED if not any(runnable(b) for b in python_blocks(ROOT / name))]
    assert not stale, f"remove from NOT_YET_SMOKE_SIZED (no runnable blocks left): {stale}"


@pytest.mark.slow  # about 70 s of CPU on one core: every snippet of every page
def test_every_python_block_runs() -> None:
    results = _child(files_with_code())
    failures = {name: r["error"] for name, r in results.items() if r["error"]}
    timing = ", ".join(f"{name} {r['seconds']:.0f} s" for name, r in results.items())
    assert not failures, "\n\n".join(f"{name}: {err}" for name, err in failures.items()) + f"\n\n({timing})"


def test_no_run_blocks_are_listed_with_a_reason() -> None:
    skipped = {(b.file, b.first_line) for p in doc_files() for b in python_blocks(p) if not runnable(b)}
    unlisted = skipped - NO_RUN.keys()
    stale = NO_RUN.keys() - skipped
    assert not unlisted, f"```python no-run blocks missing from NO_RUN (add the reason): {sorted(unlisted)}"
    assert not stale, f"NO_RUN entries whose block is gone or runs again: {sorted(stale)}"
    assert all(reason.strip() for reason in NO_RUN.values())


def test_fence_info_strings_are_known() -> None:
    """A typo such as ```pyhton or ```python norun would silently skip a block."""
    known = {"python", "python no-run", "bash", "sh", "yaml", "csv", "text", "json", "console", ""}
    bad = [(b.file, b.line, b.info) for p in doc_files() for b in blocks(p) if b.info not in known]
    assert not bad, f"unknown fence info strings (known: {sorted(known)}): {bad}"


def _command_lines(text: str) -> list[str]:
    """Every shell command in ``text`` that starts with ``nasbench`` (comments dropped, lines joined)."""
    text = re.sub(r"\\\n", " ", re.sub(r"#.*", "", text))  # comments are prose; join continued lines
    return [seg.strip() for seg in re.split(r"&&|\|\||;|\||\n", text) if seg.split()[:1] == ["nasbench"]]


def _commands(text: str) -> list[list[str]]:
    """The command words after ``nasbench`` of every such command."""
    return [[w for w in line.split()[1:3] if re.fullmatch(r"[a-z][a-z-]*", w)] for line in _command_lines(text)]


def test_documented_shell_commands_parse() -> None:
    """Every `nasbench ...` line of a shell block is accepted by the CLI's argument parser as written."""
    import contextlib
    import io
    import shlex

    from nasbench.cli import build_parser

    parser = build_parser()
    rejected = []
    for path in doc_files():
        for block in blocks(path):
            if block.info not in {"bash", "sh", "console"}:
                continue
            for line in _command_lines(block.code):
                err = io.StringIO()
                try:
                    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                        parser.parse_args(shlex.split(line)[1:])
                except SystemExit as exc:
                    if exc.code:
                        reason = (err.getvalue().strip().splitlines() or ["?"])[-1]
                        rejected.append(f"{path.relative_to(ROOT)}:{block.line}: {line}\n    {reason}")
    assert not rejected, "documented commands the CLI rejects:\n" + "\n".join(rejected)


def mentioned_commands() -> set[tuple[str, str]]:
    """(file, "command [subcommand]") for every `nasbench ...` in shell blocks and inline code."""
    found: set[tuple[str, str]] = set()
    for path in doc_files():
        text = path.read_text(encoding="utf-8")
        shell = [b.code for b in blocks(path) if b.info in {"bash", "sh", "console"}]
        inline = re.findall(r"`([^`\n]+)`", text)
        for chunk in (*shell, *inline):
            for words in _commands(chunk):
                if words:
                    found.add((str(path.relative_to(ROOT)), " ".join(words)))
    return found


def test_every_documented_cli_command_exists() -> None:
    from nasbench.cli import build_parser

    parser = build_parser()
    top = next(a for a in parser._actions if a.dest == "command")  # noqa: SLF001 — argparse has no public API
    groups: dict[str, set[str]] = {}
    for name, sub in top.choices.items():
        nested = [a for a in sub._actions if a.dest == "subcommand"]  # noqa: SLF001
        groups[name] = set(nested[0].choices) if nested else set()
    unknown = []
    for file, words in sorted(mentioned_commands()):
        command, _, sub = words.partition(" ")
        if command not in groups:
            unknown.append(f"{file}: nasbench {command}")
        elif groups[command] and sub and sub not in groups[command]:  # a bare group name is fine
            unknown.append(f"{file}: nasbench {words} (known: {', '.join(sorted(groups[command]))})")
    assert not unknown, "docs mention commands `nasbench --help` does not list:\n" + "\n".join(unknown)


# Pages other work is writing at the same time; linked already. Remove an entry when its page lands.
PENDING_PAGES: dict[str, str] = {}


def anchors(path: Path) -> set[str]:
    """GitHub's heading anchors of a Markdown file (lower case, punctuation dropped, spaces → '-')."""
    found: set[str] = set()
    in_code = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and (match := re.match(r"#{1,6} +(.*)", line)):
            slug = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower()).replace(" ", "-")
            found.add(slug if slug not in found else f"{slug}-1")
    return found


def test_relative_links_resolve() -> None:
    """Every relative Markdown link points at an existing file, and its #anchor at a heading there."""
    broken, pending = [], set()
    for path in doc_files():
        text = path.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            resolved = (path.parent / target.split("#", 1)[0]).resolve()
            name = str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(resolved)
            if name in PENDING_PAGES:
                pending.add(name)
            elif not resolved.exists():
                broken.append(f"{path.relative_to(ROOT)}: {target}")
            elif "#" in target and resolved.suffix == ".md" and target.split("#", 1)[1] not in anchors(resolved):
                broken.append(f"{path.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken, "broken links:\n" + "\n".join(broken)
    landed = [name for name in pending if (ROOT / name).exists()]
    assert not landed, f"pages in PENDING_PAGES exist now; remove them from the list: {landed}"


def test_mkdocs_nav_lists_every_page() -> None:
    import yaml

    def pages(node: object) -> list[str]:
        if isinstance(node, str):
            return [node]
        if isinstance(node, dict):
            return [p for v in node.values() for p in pages(v)]
        return [p for v in node for p in pages(v)] if isinstance(node, list) else []

    listed = pages(yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))["nav"])
    present = sorted(p.name for p in (ROOT / "docs").glob("*.md"))
    assert sorted(listed) == sorted(set(listed)), "a page is listed twice in mkdocs.yml"
    assert set(listed) == set(present), (
        f"mkdocs.yml nav vs docs/: missing {sorted(set(present) - set(listed))}, "
        f"unknown {sorted(set(listed) - set(present))}"
    )


# The contract of /work/shared/design/API.md ("everything listed is importable from the top-level
# package"); test_api_contract_matches_the_design_doc keeps this list in step with that file when present.
API_TOP = (
    "load_space", "SearchSpace", "Architecture", "list_blocks", "create_block", "register_block",
    "create_model", "list_models", "count_params", "count_macs", "LatencyTable", "measure_latency",
    "LatencyMeasurement", "SearchResult", "Supernet", "export_onnx", "fold_batchnorm", "check_operators",
)
API_SEARCH = ("darts", "saliency", "distill_surrogates", "mobo")
API_MEMBERS = {
    "SearchSpace": ("positions", "baseline", "random", "size", "build", "supernet", "to_yaml", "from_yaml"),
    "Architecture": ("parse", "to_json", "from_json"),
    "LatencyTable": ("profile", "load", "save", "predict", "missing", "to_frame"),
    "LatencyMeasurement": ("median_ms", "p10_ms", "p90_ms", "runs", "settings"),
    "SearchResult": ("architecture", "history", "pareto_front", "save", "load"),
}
DESIGN_API = Path("/work/shared/design/API.md")


def _has_member(cls: type, name: str) -> bool:
    if hasattr(cls, name) or name in getattr(cls, "__dataclass_fields__", {}):
        return True
    if cls.__name__ == "SearchSpace":  # instance attributes
        import nasbench

        return hasattr(nasbench.load_space("nafnet_tiny"), name)
    return False


def test_every_api_name_is_importable_and_documented() -> None:
    import nasbench

    reference = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    problems = []
    for name in API_TOP:
        if not hasattr(nasbench, name):
            problems.append(f"nasbench.{name} is not importable")
        if f"nasbench.{name}" not in reference:
            problems.append(f"docs/api.md does not document nasbench.{name}")
    for name in API_SEARCH:
        if not callable(getattr(nasbench.search, name, None)):
            problems.append(f"nasbench.search.{name} is not importable")
        if f"nasbench.search.{name}(" not in reference:
            problems.append(f"docs/api.md does not document nasbench.search.{name}(...)")
    for cls_name, members in API_MEMBERS.items():
        cls = getattr(nasbench, cls_name, None)
        for member in members:
            if cls is not None and not _has_member(cls, member):
                problems.append(f"nasbench.{cls_name} has no {member!r}")
            if f".{member}" not in reference:
                problems.append(f"docs/api.md does not mention {cls_name}.{member}")
    assert not problems, "\n".join(problems)


@pytest.mark.skipif(not DESIGN_API.exists(), reason="the design docs live outside the repository")
def test_api_contract_matches_the_design_doc() -> None:
    text = DESIGN_API.read_text(encoding="utf-8")
    named = set(re.findall(r"nasbench\.(?!search\b)(\w+)", text)) | set(
        re.findall(r"(?:^- `|-> )([A-Z]\w+)", text, re.M)
    )
    searched = set(re.findall(r"nasbench\.search\.(\w+)", text))
    assert named <= set(API_TOP), f"API.md names missing from API_TOP: {sorted(named - set(API_TOP))}"
    assert searched <= set(API_SEARCH), f"API.md names missing from API_SEARCH: {sorted(searched - set(API_SEARCH))}"


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        target, names = Path(sys.argv[2]), sys.argv[3:]
        with tempfile.TemporaryDirectory(prefix="nasbench-docs-run-") as tmp:
            target.write_text(json.dumps(run_files(names, Path(tmp))))
    else:
        outcome = _child(sys.argv[1:] or files_with_code(), verbose=True)
        for file, r in outcome.items():
            state = "ok" if not r["error"] else "FAILED\n" + r["error"]
            print(f"{r['seconds']:7.1f} s wall {r['cpu_seconds']:7.1f} s cpu  {r['blocks']} blocks  {file}  {state}")
        wall, cpu = (sum(r[k] for r in outcome.values()) for k in ("seconds", "cpu_seconds"))
        print(f"{wall:7.1f} s wall {cpu:7.1f} s cpu  total")
