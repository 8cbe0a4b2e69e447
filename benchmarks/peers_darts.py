"""Peers: the same DARTS problem through NNI's DARTS and through ``nasbench.search.darts``.

    python benchmarks/peers_darts.py [--quick] [--steps 30] [--crop 24] [--repeats 3] [--peer-python PATH]

The problem: the ``nafnet_tiny`` space (11 positions × 4 candidates), the built-in denoising data
(``builtin_data("denoise", sigma=25)``) at ``--crop`` px crops, batch 8, ``--steps`` steps, no warm-up
(every step is one α step on a held-out batch then one weight step), 1 torch thread. Both engines see the
same batches (even items of the data train the weights, odd items α, drawn by step as ``darts`` draws them),
the same initial weights (same seed, same construction order), AdamW 1e-3 with a cosine schedule and
gradient clipping at 1.0 for the weights, Adam 3e-3 (0.5, 0.999), weight decay 1e-3 for α. Our search adds
its latency term μ·E_p[latency]/latency(baseline) and its entropy schedule; NNI gets the same latency table
through its own hook for hardware awareness, ``DARTS(penalty=ExpectationProfilerPenalty(profiler, baseline,
scale=μ))`` with an ``ExpressionProfiler`` whose expression is the table's latency of the architecture
(skeleton + fixed blocks + ``switch_case`` per position).

Each run is its own process (peak RSS is its own); the runs are interleaved (ours, NNI, ours, NNI, ...) and
the per-step wall time is the median step (the first two steps dropped) of each run, then the median over
repeats. One extra NNI run with no penalty at all checks whether NNI's penalty changes the search.

NNI is not a project dependency. Install it next to the project without changing its environment::

    python -m venv /work/peers-venv --system-site-packages
    /work/peers-venv/bin/pip install nni pytorch-lightning

and pass ``--peer-python /work/peers-venv/bin/python`` (the default is that path when it exists, else this
interpreter). When NNI is not importable there the script says so in one line on stderr and exits non-zero.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
DEFAULT_PEER_PYTHON = Path("/work/peers-venv/bin/python")
ROOT = HERE.parents[1]
RAW = ROOT / "runs" / "bench_peers" / "runs.json"  # raw results of the last full run (--existing re-reports)
TABLE = "nasbench/profiles/tables/nafnet_tiny_256_t1.yaml"  # latency of the searched networks at 256², 1 thread
SIZE = (256, 256)
SPACE = "nafnet_tiny"
SEED = 0
BATCH = 8
# Other maintained peers: (name, how it was installed, the module its search needs, why it is not run here).
# The import is probed at run time, so the error shown is the current one.
PEERS = (
    (
        "Microsoft Archai 1.0.0",
        "pip install archai",
        "archai.supergraph.algos.darts.darts_model_desc_builder",
        "its DARTS (archai.supergraph) is the cell-based CIFAR/ImageNet classification DARTS driven by YAML "
        "configs and needs torchvision; PyPI's torchvision 0.28.0 (the release for torch 2.13) fails to load "
        "against this CPU build of torch (`RuntimeError: operator torchvision::nms does not exist`; it was "
        "uninstalled again, NNI imports it when present), and the newest torchvision pulls torch 2.14 with "
        "CUDA wheels. Porting our space would also mean re-expressing it as Archai model descriptions",
    ),
    (
        "Once-for-All (ofa 0.1.0.post202307202001)",
        "pip install ofa",
        "ofa.model_zoo",
        "not a DARTS: pretrained once-for-all supernets of ImageNet classifiers (MobileNetV3, ProxylessNAS, "
        "ResNet-50) searched by evolution with an accuracy predictor; weights and its latency tables are "
        "downloaded at run time (gdown, GitHub URLs), which this machine cannot reach",
    ),
)
INSTALL_NOTES = """\
Peers tried, each installed into a separate virtualenv (`python -m venv /work/peers-venv
--system-site-packages`; the project environment and pyproject are unchanged):

- **NNI 3.0** (`pip install nni`, then `pip install pytorch-lightning`, which NNI's evaluator imports but
  does not declare): installs and runs on torch 2.13 CPU, with warnings only ("torch.nn.parameter.Buffer is
  found to be not a nn.Module ... your PyTorch version might not be supported"). Used above, through the
  strategy's own steps (`DARTS.mutate_model`, `configure_oneshot_module`, `train_dataloader`) and a
  Lightning `Trainer`, which is what NNI's one-shot strategy does inside an experiment.
{other}
- Not tried: `autora-theorist-darts` (DARTS over a small graph of arithmetic primitives for equation
  discovery, not a network-block search); research repositories of DARTS variants are not maintained
  packages.
"""

def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _problem(crop: int) -> tuple[Any, Any, Any, Any]:
    """The space, the (weight, α) data splits and the latency table, identical for both engines."""
    import torch

    import nasbench
    from nasbench.latency import LatencyTable
    from nasbench.search.darts import _Split
    from nasbench.train import builtin_data

    torch.set_num_threads(1)
    space = nasbench.load_space(SPACE)
    train, _ = builtin_data("denoise", sigma=25, crop=crop, seed=SEED)
    table = LatencyTable.load(ROOT / TABLE)
    return space, (_Split(train, 0), _Split(train, 1)), table, torch


def _run_ours(steps: int, crop: int, mu: float, penalty: bool) -> dict[str, Any]:
    space, data, table, torch = _problem(crop)
    from nasbench.search import darts

    stamps: list[float] = []
    torch.manual_seed(SEED)
    start_rss = _rss_mb()
    t0 = time.perf_counter()
    result = darts(
        space, data, table, input_size=SIZE, steps=steps, warmup_steps=0, batch_size=BATCH,
        mu=mu if penalty else 0.0, weight_lr=1e-3, alpha_lr=3e-3, grad_clip=1.0, seed=SEED, progress=False,
        callback=lambda _row: stamps.append(time.perf_counter()),
    )
    total = time.perf_counter() - t0
    probs = {k.split("/", 1)[1]: v for k, v in result.history[-1].items() if k.startswith("p/")}
    return _record(stamps, total, start_rss, result.architecture.to_dict()["choices"], probs)


def _run_nni(steps: int, crop: int, mu: float, penalty: bool) -> dict[str, Any]:
    import warnings
    from collections import OrderedDict

    warnings.filterwarnings("ignore")
    space, (train_split, arch_split), table, torch = _problem(crop)
    import nni.nas.evaluator.pytorch as nni_eval
    import pytorch_lightning as pl
    from nni.mutable import MutableExpression
    from nni.nas.nn.pytorch import LayerChoice, ModelSpace
    from nni.nas.oneshot.pytorch.profiler import ExpectationProfilerPenalty
    from nni.nas.profiler import ExpressionProfiler
    from nni.nas.strategy import DARTS
    from torch.utils.data import DataLoader, Dataset

    from nasbench.blocks import create_block
    from nasbench.search.darts import LatencyCost, _batch

    class NafnetTinySpace(ModelSpace):
        """The nafnet_tiny backbone with an NNI ``LayerChoice`` (labelled by position) at every position."""

        def __init__(self) -> None:
            super().__init__()
            blocks: dict[str, list[torch.nn.Module]] = {s.name: [] for s in space.stages}
            for p in space.positions:
                made = [create_block(c.block, p.channels, **c.kwargs) for c in p.candidates]
                chosen = LayerChoice(OrderedDict(zip(p.labels, made)), label=p.name) if p.searchable else made[0]
                blocks[p.stage].append(chosen)
            self.net = space.backbone_cls(space.backbone_config, blocks)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x)

    class LutProfiler(ExpressionProfiler):
        """Our latency table as an NNI expression: constant + Σ_positions switch_case(choice, {label: ms})."""

        def __init__(self, model_space: ModelSpace) -> None:
            cost = LatencyCost(space, table, SIZE)
            mutables = model_space.simplify()
            expression: Any = cost.constant
            for name, vector in cost.vectors.items():
                cases = dict(zip(space.position(name).labels, vector.tolist()))
                expression = expression + MutableExpression.switch_case(mutables[name], cases)
            self.expression = expression
            self.baseline_ms = cost.baseline_ms

    class Batches(Dataset):
        """Batch ``i`` of one stream, drawn exactly as ``darts`` draws step ``i``'s batch."""

        def __init__(self, dataset: Dataset, stream: int) -> None:
            self.dataset, self.stream = dataset, stream

        def __len__(self) -> int:
            return steps

        def __getitem__(self, i: int) -> tuple[torch.Tensor, ...]:
            return _batch(self.dataset, SEED, i, self.stream, 0, BATCH)

    class Task(nni_eval.LightningModule):
        """The task: L1 loss, AdamW with a cosine schedule over ``steps`` (as ``darts``)."""

        def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], _index: int) -> torch.Tensor:
            x, y = batch
            return torch.nn.functional.l1_loss(self.model(x), y)

        def configure_optimizers(self) -> Any:
            opt = torch.optim.AdamW(self.model.parameters(), lr=1e-3, weight_decay=0.0)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=1e-6)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    class Stamps(pl.Callback):
        def __init__(self) -> None:
            self.times: list[float] = []

        def on_train_batch_end(self, *_args: Any) -> None:
            self.times.append(time.perf_counter())

    torch.manual_seed(SEED)
    start_rss = _rss_mb()  # before the supernet is built, as for ours (darts builds it inside the call)
    model_space = NafnetTinySpace()
    profiler = LutProfiler(model_space)
    lut_penalty = ExpectationProfilerPenalty(profiler, profiler.baseline_ms, scale=mu) if penalty else None
    strategy = DARTS(arc_learning_rate=3e-3, gradient_clip_val=1.0, log_prob_every_n_step=10**9, penalty=lut_penalty)
    task = Task()
    task.set_model(strategy.mutate_model(model_space))
    oneshot = strategy.configure_oneshot_module(task)
    loader = strategy.train_dataloader(
        lambda: DataLoader(Batches(train_split, 0), batch_size=None),
        lambda: DataLoader(Batches(arch_split, 1), batch_size=None),
    )
    stamps = Stamps()  # one epoch = `steps` batches (max_steps would count both optimizers' steps)
    trainer = pl.Trainer(
        max_epochs=1, accelerator="cpu", logger=False, callbacks=[stamps], enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0,
    )
    t0 = time.perf_counter()
    trainer.fit(oneshot, train_dataloaders=loader)
    total = time.perf_counter() - t0
    probs = {f"{pos}/{lab}": p for pos, dist in oneshot.export_probs().items() for lab, p in dist.items()}
    return _record(stamps.times, total, start_rss, dict(oneshot.export()), probs)


def _record(
    stamps: list[float], total: float, start_rss: float, arch: dict[str, str], probs: dict[str, float]
) -> dict[str, Any]:
    steps = [b - a for a, b in zip(stamps, stamps[1:])][1:]  # drop the first two steps (warm caches)
    return {
        "step_s": statistics.median(steps),
        "steps_timed": len(steps),
        "total_s": total,
        "start_rss_mb": start_rss,
        "peak_rss_mb": _peak_mb(),
        "architecture": arch,
        "probabilities": probs,
    }


WORKERS: dict[str, Callable[[int, int, float, bool], dict[str, Any]]] = {"ours": _run_ours, "nni": _run_nni}


def _worker(python: str, engine: str, steps: int, crop: int, mu: float, penalty: bool) -> dict[str, Any]:
    cmd = [python, str(HERE), "--worker", engine, "--steps", str(steps), "--crop", str(crop), "--mu", str(mu)]
    cmd += [] if penalty else ["--no-penalty"]
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if done.returncode:
        sys.exit(f"peers_darts: {engine} worker failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _probe(python: str, module: str) -> str:
    """'importable' or the last line of the import error under ``python``."""
    done = subprocess.run([python, "-c", f"import {module}"], capture_output=True, text=True)
    lines = done.stderr.strip().splitlines()
    return "importable" if done.returncode == 0 else (lines[-1] if lines else f"exit {done.returncode}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 repeat, 12 steps, 16 px crops; writes no docs")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--crop", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--mu", type=float, default=0.5, help="latency weight (our μ, NNI's penalty scale)")
    parser.add_argument("--peer-python", default=None)
    parser.add_argument("--existing", action="store_true", help=f"re-report {os.path.relpath(RAW, ROOT)}, run nothing")
    parser.add_argument("--worker", choices=list(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--no-penalty", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    steps = args.steps or (12 if args.quick else 30)
    crop = args.crop or (16 if args.quick else 24)
    if args.worker:
        print(json.dumps(WORKERS[args.worker](steps, crop, args.mu, not args.no_penalty)))
        return
    if args.existing:
        if not RAW.is_file():
            sys.exit(f"peers_darts: --existing: {os.path.relpath(RAW, ROOT)} does not exist; run without --existing")
        raw = json.loads(RAW.read_text())
    else:
        raw = _measure(args, steps, crop, args.repeats or (1 if args.quick else 3))
        if not args.quick:
            RAW.parent.mkdir(parents=True, exist_ok=True)
            RAW.write_text(json.dumps(raw, indent=1))
    body = _report(**raw)
    print(body)
    if not args.quick:
        from report import write_section

        write_section("peers-darts", "Peers: the same DARTS problem through NNI", body)


def _measure(args: argparse.Namespace, steps: int, crop: int, repeats: int) -> dict[str, Any]:
    """Interleaved runs of both engines and one unpenalised NNI run: the raw results _report reads."""
    peer_python = args.peer_python or (str(DEFAULT_PEER_PYTHON) if DEFAULT_PEER_PYTHON.exists() else sys.executable)
    nni_state = _probe(peer_python, "nni.nas.strategy")
    if nni_state != "importable":
        sys.exit(
            f"peers_darts: NNI is not importable by {peer_python} ({nni_state}); install it in a separate venv "
            "(see this script's docstring) and pass --peer-python"
        )
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "nni": []}
    for r in range(repeats):
        order = ("ours", "nni") if r % 2 == 0 else ("nni", "ours")  # interleaved, alternating who goes first
        for engine in order:
            runs[engine].append(_worker(peer_python, engine, steps, crop, args.mu, True))
            print(f"repeat {r + 1}/{repeats} {engine}: {runs[engine][-1]['step_s'] * 1e3:.0f} ms/step", flush=True)
    unpenalised = _worker(peer_python, "nni", steps, crop, args.mu, False)
    return {"runs": runs, "unpenalised": unpenalised, "peer_python": peer_python, "steps": steps, "crop": crop,
            "repeats": repeats, "mu": args.mu}


def _report(
    runs: dict[str, list[dict[str, Any]]], unpenalised: dict[str, Any], peer_python: str,
    steps: int, crop: int, repeats: int, mu: float,
) -> str:
    from report import table

    import nasbench
    from nasbench.latency import LatencyTable

    space = nasbench.load_space(SPACE)
    lut = LatencyTable.load(ROOT / TABLE)

    def predicted(arch: dict[str, str]) -> float:
        return lut.predict(space, space.architecture(arch), SIZE)

    ratios = [n["step_s"] / o["step_s"] for o, n in zip(runs["ours"], runs["nni"])]
    rows = []
    for engine, label in (("ours", "nasbench.search.darts"), ("nni", "NNI 3.0 DARTS + LUT penalty")):
        rs = runs[engine]
        rows.append({
            "engine": label,
            "step (ms, median of runs)": f"{statistics.median(r['step_s'] for r in rs) * 1e3:.0f}",
            "run wall time (s)": f"{statistics.median(r['total_s'] for r in rs):.1f}",
            "RSS before search (MB)": f"{statistics.median(r['start_rss_mb'] for r in rs):.0f}",
            "peak RSS (MB)": f"{statistics.median(r['peak_rss_mb'] for r in rs):.0f}",
            "peak − start (MB)": f"{statistics.median(r['peak_rss_mb'] - r['start_rss_mb'] for r in rs):.0f}",
            "found (repeat 1): LUT ms at 256²": f"{predicted(rs[0]['architecture']):.1f}",
        })
    baseline_ms = lut.predict(space, space.baseline(), SIZE)
    penalised = runs["nni"][0]["probabilities"]
    same = max(abs(penalised[k] - unpenalised["probabilities"][k]) for k in penalised)
    arch_text = {e: str(space.architecture(runs[e][0]["architecture"])) for e in runs}
    others = "\n".join(
        f"- **{name}** (`{install}`): `import {module}` under {peer_python}: {_probe(peer_python, module)}. "
        f"Not run: {why}."
        for name, install, module, why in PEERS
    )
    return f"""
Same problem through both engines: `{SPACE}` (11 positions × 4 candidates), built-in denoising data
(σ = 25) at {crop}×{crop} crops, batch {BATCH}, {steps} steps with no warm-up, identical batches and initial
weights, 1 thread, μ = {mu}; each run its own process, {repeats} interleaved repeats (alternating order). Per-step
time: median step of a run (first two dropped), then the median over runs. Found architectures are scored
with the shipped table `{TABLE}` (256², 1 thread); the baseline (all `naf`) predicts {baseline_ms:.1f} ms.

{table(rows)}

- NNI's step time / ours, per repeat: {", ".join(f"{r:.2f}" for r in ratios)}
  (median **{statistics.median(ratios):.2f}×**).
- Hardware awareness: NNI's DARTS accepts a latency table only through `penalty=` (an `ExpressionProfiler`;
  we built one from our table). Its `DartsLightningModule` passes `export_probs()` to the penalty, which
  are Python floats (`softmax(α).cpu().tolist()`), so the penalty adds a constant to the α loss and no
  gradient: the largest difference of any candidate probability between the penalised run and a run with
  no penalty (same seed, same batches) is **{same:.2e}**. NNI's DARTS therefore cannot be steered by latency
  without writing the differentiable term oneself; ours uses the table's expectation in the α gradient.
- Found (repeat 1): ours `{arch_text['ours']}`; NNI `{arch_text['nni']}`.
- Peak RSS includes each interpreter's imports (NNI and Lightning add to the RSS before the search);
  "peak − start" is what building the supernet and searching added (start: after imports and data, before
  the supernet is built). Run wall time is the whole search call (ours builds its supernet inside it).

{INSTALL_NOTES.format(other=others)}
"""


if __name__ == "__main__":
    main()
