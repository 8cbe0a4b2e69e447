"""Helpers of the reliability tests: the corpus folder, and running the command line in this process or as
a real ``nasbench`` subprocess."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from nasbench.cli import EXIT_BAD_INPUT, main

CORPUS = Path(__file__).parent / "corpus"


@dataclass(frozen=True)
class CliError:
    """What a failed command printed: the exit code and stderr."""

    code: int
    stderr: str

    def line(self, command: str) -> str:
        """The error message after ``nasbench <command>: error: `` — asserting there is exactly one line
        on stderr, no traceback, and the bad-input exit code."""
        lines = self.stderr.strip().splitlines()
        assert self.code == EXIT_BAD_INPUT, (self.code, self.stderr)
        assert "Traceback" not in self.stderr, self.stderr
        assert len(lines) == 1, self.stderr
        prefix = f"nasbench {command}: error: "
        assert lines[0].startswith(prefix), lines[0]
        return lines[0].removeprefix(prefix)


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> CliError:
    """Run the command line in this process (as ``nasbench`` does); any exception other than the
    one-line error path propagates and fails the test."""
    capsys.readouterr()
    code = main(argv)
    return CliError(code, capsys.readouterr().err)


def cli_subprocess(argv: list[str], cwd: Path) -> CliError:
    """Run the installed ``nasbench`` console script in a real process."""
    script = shutil.which("nasbench")
    command = [script] if script else [sys.executable, "-m", "nasbench.cli"]
    run = subprocess.run([*command, *argv], capture_output=True, text=True, check=False, cwd=cwd, timeout=300)
    return CliError(run.returncode, run.stderr)
