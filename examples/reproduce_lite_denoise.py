"""Reproduce the LiteDenoiseNet method: an NPU-native student distilled from a stronger teacher.

    python examples/reproduce_lite_denoise.py --scale tiny --output runs/lite_tiny     # ≤ 10 min, 2 cores
    python examples/reproduce_lite_denoise.py --scale paper --output runs/lite_paper   # HeavyDenoiseNet teacher

A teacher (a zoo network; tiny: LiteDenoiseNet with 4× the students' steps, paper: HeavyDenoiseNet) is
trained on the built-in σ = 25 data, or reused from OUTPUT/teacher when it is already trained. Then two
students of the ``lite_denoise`` space (by default its baseline, LiteDenoiseNet) are trained with the same
initialisation, steps and crop schedule: one with α = 0.9 (teacher distillation), one with α = 0 (clean
targets only) — at tiny scale at once, in two worker processes (``students.processes``). All three are
evaluated on the same held-out photographs and timed together in onnxruntime; every one that is an
architecture of the students' space is also priced by a latency table measured with the same protocol
(the shipped one at ``latency.input``, else one profiled into OUTPUT/profile). ``summary.json`` holds
``teacher``, ``student_kd`` and ``student_clean`` (also under the
API's names ``found`` and ``baseline``), ``gap_closed`` — the share of the α = 0 → teacher PSNR gap that
distillation closes, null when the teacher is not better than the α = 0 student — and ``settings``. The
distilled student's ONNX graph is checked against the ``npu_native`` operator allow-list.
Settings live in examples/lite_denoise.yaml; ``--set students.steps=300`` overrides one.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch
from torch import nn

import nasbench
from nasbench.config import build_config, check_keys, read_config
from nasbench.errors import NasbenchError
from nasbench.latency import Protocol, latency_table, measure_latencies
from nasbench.train.distill import distill
from nasbench.zoo import BASELINES

HERE = Path(__file__).resolve().parent
STUDENTS = {"student_kd": None, "student_clean": 0.0}  # name -> α (None: the configured students.alpha)
ALLOWED = {  # the settings' sections and their options (None: not checked here; data go to builtin_data)
    "threads": None,
    "seed": None,
    "data": None,
    "teacher": {"model", "steps", "crop", "batch_size", "lr", "loss"},
    "students": {
        "space",
        "architecture",
        "steps",
        "crop_schedule",
        "lr",
        "alpha",
        "teacher_loss",
        "features",
        "feature_weight",
        "feature_loss",
        "cache",
        "processes",
    },
    "latency": {"input", "protocol"},
}


def settings(scale: str, overrides: list[str]) -> dict[str, Any]:
    """examples/lite_denoise.yaml's section ``scale`` with ``--set`` overrides; unknown keys are refused."""
    defaults = read_config(HERE / "lite_denoise.yaml", scale)
    return build_config(defaults, lambda config: check_keys(config, ALLOWED), overrides=overrides)


def student_space(cfg: dict[str, Any]) -> tuple[nasbench.SearchSpace, nasbench.Architecture]:
    """The students' space and architecture (``students.architecture``, or the space's baseline)."""
    space = nasbench.load_space(cfg["students"]["space"])
    text = cfg["students"]["architecture"]
    return space, space.baseline() if text is None else space.architecture(text)


def record(model: nn.Module, name: str, quality: dict[str, float], size: list[int], predicted: float | None) -> dict:
    return {
        "architecture": name,
        "params": nasbench.count_params(model),
        "macs": nasbench.count_macs(model, (3, *size)),
        "predicted_latency_ms": predicted,
        "psnr_db": quality["psnr_db"],
        "ssim": quality["ssim"],
    }


def train_teacher(cfg: dict[str, Any], out: Path) -> nn.Module:
    """The teacher trained per ``teacher`` (or resumed from OUTPUT/teacher), saved to OUTPUT/teacher.pt."""
    t = cfg["teacher"]
    train, _ = nasbench.builtin_data(**cfg["data"], crop=t["crop"], seed=cfg["seed"])
    torch.manual_seed(cfg["seed"])
    teacher = nasbench.create_model(t["model"])
    nasbench.finetune(
        teacher,
        train,
        steps=t["steps"],
        batch_size=t["batch_size"],
        lr=t["lr"],
        loss=t["loss"],
        seed=cfg["seed"],
        checkpoint_dir=out / "teacher",
        resume=True,
    )
    torch.save(teacher.state_dict(), out / "teacher.pt")
    return teacher.eval()


def train_student(cfg: dict[str, Any], name: str, out: Path) -> dict[str, float]:
    """Train student ``name`` (a key of STUDENTS) against the teacher in OUTPUT/teacher.pt, save it to
    OUTPUT/<name>.pt and evaluate it; returns its ``psnr_db``, ``ssim`` and ``seconds``. Runs in this
    process or in a worker (spawned: it reads everything from ``cfg`` and OUTPUT)."""
    began = time.perf_counter()
    if cfg.get("threads"):
        torch.set_num_threads(cfg["threads"])
    s, alpha = cfg["students"], STUDENTS[name]
    space, arch = student_space(cfg)
    teacher = nasbench.create_model(cfg["teacher"]["model"])
    teacher.load_state_dict(torch.load(out / "teacher.pt", weights_only=True))
    train, val = nasbench.builtin_data(**cfg["data"], crop=s["crop_schedule"][0][1], seed=cfg["seed"])
    torch.manual_seed(cfg["seed"])  # the same initialisation for both students
    student = space.build(arch)
    distill(
        student,
        teacher,
        train,
        steps=s["steps"],
        alpha=s["alpha"] if alpha is None else alpha,
        lr=s["lr"],
        teacher_loss=s["teacher_loss"],
        # feature-level distillation for the distilled student only: the α = 0 one sees no teacher signal
        features=s.get("features") if alpha is None else None,
        feature_weight=s.get("feature_weight", 1.0),
        feature_loss=s.get("feature_loss", "mse"),
        crop_schedule=s["crop_schedule"],
        cache=s["cache"],
        seed=cfg["seed"],
        checkpoint_dir=out / name,
        resume=True,
        progress=s["processes"] == 1,
    )
    torch.save(student.state_dict(), out / f"{name}.pt")
    quality = nasbench.evaluate(student, val)
    return {"psnr_db": quality["psnr_db"], "ssim": quality["ssim"], "seconds": time.perf_counter() - began}


def train_students(cfg: dict[str, Any], out: Path) -> dict[str, dict[str, float]]:
    """Both students, one after the other (``students.processes: 1``) or at once in spawned worker
    processes (each with ``threads`` torch threads), which gives bitwise the same students."""
    processes = cfg["students"]["processes"]
    if processes == 1:
        return {name: train_student(cfg, name, out) for name in STUDENTS}
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {name: pool.submit(train_student, cfg, name, out) for name in STUDENTS}
        return {name: future.result() for name, future in futures.items()}


def gap_closed(teacher_db: float, kd_db: float, clean_db: float) -> float | None:
    """(kd − clean) / (teacher − clean); None when the teacher is not better than the α = 0 student."""
    return (kd_db - clean_db) / (teacher_db - clean_db) if teacher_db > clean_db else None


def run(cfg: dict[str, Any], scale: str, out: Path) -> dict[str, Any]:
    processes = cfg["students"]["processes"]
    if not (isinstance(processes, int) and processes >= 1):
        raise NasbenchError(f"settings: students.processes: must be an integer ≥ 1, got {processes!r}")
    if cfg.get("threads"):
        torch.set_num_threads(cfg["threads"])
    out.mkdir(parents=True, exist_ok=True)
    start, load = time.perf_counter(), os.getloadavg()[0]
    space, arch = student_space(cfg)
    baseline_model = next((m for m, name in BASELINES.items() if name == space.name), None)
    student_name = baseline_model if arch == space.baseline() and baseline_model else str(arch)
    size = list(cfg["latency"]["input"])
    protocol = Protocol(**cfg["latency"]["protocol"])
    # Priced with the protocol the networks are timed with below: the shipped table, or one profiled now.
    table = latency_table(space, size, protocol, work_dir=out / "profile")
    times = {"latency_table_s": time.perf_counter() - start}

    teacher = train_teacher(cfg, out)
    times["teacher_s"] = time.perf_counter() - start - times["latency_table_s"]
    began = time.perf_counter()
    students = train_students(cfg, out)
    times["students_s"] = time.perf_counter() - began
    times.update({f"{name}_s": result["seconds"] for name, result in students.items()})

    began = time.perf_counter()
    _, val = nasbench.builtin_data(**cfg["data"], crop=cfg["teacher"]["crop"], seed=cfg["seed"])
    models: dict[str, nn.Module] = {"teacher": teacher}
    for name in STUDENTS:
        models[name] = space.build(arch)
        models[name].load_state_dict(torch.load(out / f"{name}.pt", weights_only=True))
        models[name].eval()
    # The teacher is priced too when it is an architecture of the students' space (its baseline).
    teacher_model = cfg["teacher"]["model"]
    in_space = BASELINES.get(teacher_model) == space.name
    predicted = table.predict(space, arch, size)
    summary: dict[str, Any] = {
        "teacher": record(
            teacher,
            teacher_model,
            nasbench.evaluate(teacher, val),
            size,
            table.predict(space, space.baseline(), size) if in_space else None,
        ),
        **{name: record(models[name], student_name, students[name], size, predicted) for name in STUDENTS},
    }
    for name, m in measure_latencies(models, (1, 3, *size), protocol).items():
        summary[name]["latency_ms"] = m.median_ms
    student_onnx = nasbench.export_onnx(models["student_kd"], out / "student_kd.onnx", (1, 3, *size))
    violations = nasbench.check_operators(student_onnx, "npu_native")
    times["evaluation_s"] = time.perf_counter() - began
    teacher_db, kd_db, clean_db = (summary[k]["psnr_db"] for k in ("teacher", "student_kd", "student_clean"))
    summary["baseline"], summary["found"] = summary["student_clean"], summary["student_kd"]
    summary["gap_db"] = teacher_db - clean_db
    summary["kd_gain_db"] = kd_db - clean_db
    summary["gap_closed"] = gap_closed(teacher_db, kd_db, clean_db)
    summary["settings"] = {
        "scale": scale,
        **cfg,
        "student_architecture": str(arch),
        "latency_table": Path(table.source).name if table.source else f"profiled in {out / 'profile'}",
        "npu_native_violations": len(violations),
        "wall_time_s": round(time.perf_counter() - start, 1),
        "load_average_1min": [round(load, 2), round(os.getloadavg()[0], 2)],  # at the start and the end
        **{key: round(value, 1) for key, value in times.items()},
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def report(summary: dict[str, Any]) -> str:
    lines = [
        f"{name:14} {m['params']:>11,} params {m['latency_ms']:>9.1f} ms {m['psnr_db']:>7.2f} dB {m['ssim']:.4f}"
        for name, m in ((n, summary[n]) for n in ("teacher", *STUDENTS))
    ]
    gap = summary["gap_closed"]
    closed = (
        f"{100 * gap:.0f} % of {summary['gap_db']:.2f} dB"
        if gap is not None
        else f"n/a (the teacher is {-summary['gap_db']:.2f} dB below the α = 0 student)"
    )
    violations = summary["settings"]["npu_native_violations"]
    lines.append(f"gap closed by distillation: {closed}; npu_native violations: {violations}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=["tiny", "paper"], default="tiny")
    parser.add_argument("--output", type=Path, default=Path("runs/lite_denoise"))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting")
    parser.add_argument("--debug", action="store_true", help="show a traceback on errors")
    args = parser.parse_args()
    try:
        summary = run(settings(args.scale, args.set), args.scale, args.output)
    except NasbenchError as exc:
        if args.debug:
            raise
        parser.exit(2, f"reproduce_lite_denoise: error: {exc}\n")
    print(report(summary))
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
