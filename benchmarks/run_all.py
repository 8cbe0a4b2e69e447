"""Run every benchmark in turn; each rewrites its own section of docs/benchmarks.md.

    python benchmarks/run_all.py            # full figures (about an hour on 2 cores)
    python benchmarks/run_all.py --quick    # smaller sizes and fewer repeats, a few minutes each

Benchmarks run one after another, never in parallel: they time things, and this machine has 2 cores.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = {
    "latency_tables.py": [],
    "supernet.py": [],
    "ern_net.py": ["--scale", "tiny"],
    "lite_denoise.py": [],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    failed = []
    for script, extra in SCRIPTS.items():
        quick = ["--quick"] if args.quick and script in ("latency_tables.py", "supernet.py") else []
        print(f"== {script}", flush=True)
        if subprocess.run([sys.executable, str(HERE / script), *extra, *quick], cwd=HERE).returncode:
            failed.append(script)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
