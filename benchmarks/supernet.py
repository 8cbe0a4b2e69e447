"""Supernet cost: step time and peak memory of the `all` and `sampled` modes vs standalone subnets.

    python benchmarks/supernet.py [--quick]

A step is forward + backward + AdamW step at batch 8 on 64×64 crops of the nafnet_tiny space. Each
configuration runs in its own process (so peak RSS is its own), and the list of configurations is
repeated `--repeats` times in rotating order, the median taken per configuration.
Targets (issue "DARTS"): `all` ≤ 1.15× the sum of the candidates' standalone step times; `sampled`
≤ 1.3× one subnet's step time and ≤ 1.5× its peak memory.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

from report import table, write_section

WORKER = r"""
import json, resource, sys, time, torch
import nasbench
torch.set_num_threads(1)
kind, arg, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
space = nasbench.load_space("nafnet_tiny")
if kind == "subnet":
    model = space.build(space.architecture({p.name: arg for p in space.positions}))
else:
    model = space.supernet(mode=kind, paths=int(arg))
opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
x, y = torch.rand(8, 3, 64, 64), torch.rand(8, 3, 64, 64)
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
times = []
for step in range(steps + 3):
    if kind != "subnet":
        model.set_step(step, 0)
    t = time.perf_counter()
    loss = torch.nn.functional.l1_loss(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    times.append(time.perf_counter() - t)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"step_ms": 1000 * sorted(times[3:])[len(times[3:]) // 2], "peak_mb": (peak - rss0) / 1024}))
"""


def run(kind: str, arg: str, steps: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", WORKER, kind, arg, str(steps)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args()
    steps = 5 if args.quick else 15
    repeats = args.repeats or (1 if args.quick else 3)
    import nasbench

    candidates = nasbench.load_space("nafnet_tiny").positions[0].labels
    configs = [("subnet", c) for c in candidates] + [("all", "1"), ("sampled", "1"), ("sampled", "2")]
    results: dict[tuple[str, str], list[dict[str, float]]] = {c: [] for c in configs}
    for r in range(repeats):
        for config in configs[r % len(configs) :] + configs[: r % len(configs)]:
            results[config].append(run(*config, steps))
            print(config, results[config][-1], flush=True)
    med = {c: {k: statistics.median(v[k] for v in vs) for k in ("step_ms", "peak_mb")} for c, vs in results.items()}
    subnet_sum = sum(med[("subnet", c)]["step_ms"] for c in candidates)
    slowest = max(candidates, key=lambda c: med[("subnet", c)]["step_ms"])
    one = med[("subnet", slowest)]
    rows = [
        {
            "configuration": f"subnet, every position `{c}`",
            "step ms": f"{med[('subnet', c)]['step_ms']:.1f}",
            "peak MB": f"{med[('subnet', c)]['peak_mb']:.0f}",
            "ratio": "",
            "target": "",
        }
        for c in candidates
    ]
    rows.append(
        {
            "configuration": "supernet `all`",
            "step ms": f"{med[('all', '1')]['step_ms']:.1f}",
            "peak MB": f"{med[('all', '1')]['peak_mb']:.0f}",
            "ratio": f"{med[('all', '1')]['step_ms'] / subnet_sum:.2f}× the sum of subnets ({subnet_sum:.1f} ms)",
            "target": "≤ 1.15×",
        }
    )
    for paths in ("1", "2"):
        m = med[("sampled", paths)]
        rows.append(
            {
                "configuration": f"supernet `sampled`, {paths} path(s)",
                "step ms": f"{m['step_ms']:.1f}",
                "peak MB": f"{m['peak_mb']:.0f}",
                "ratio": f"time {m['step_ms'] / one['step_ms']:.2f}×, memory {m['peak_mb'] / one['peak_mb']:.2f}× "
                f"the slowest subnet (`{slowest}`)",
                "target": "≤ 1.3× time, ≤ 1.5× memory" if paths == "1" else "—",
            }
        )
    body = (
        table(rows) + f"\n\nnafnet_tiny (11 positions × 4 candidates), batch 8, 64×64, 1 thread, median of "
        f"{steps} steps per process, {repeats} repeat(s). Peak memory is the growth of the process's peak RSS "
        "during the steps (activations, gradients, optimizer state).\n"
    )
    print(body)
    write_section("supernet", "Supernet step time and memory", body)


if __name__ == "__main__":
    main()
