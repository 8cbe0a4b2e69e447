"""Reproduce the LiteDenoiseNet method: an NPU-native student distilled from a stronger teacher.

    python examples/reproduce_lite_denoise.py --scale tiny --output runs/lite_tiny     # ≤ 10 min, 2 cores
    python examples/reproduce_lite_denoise.py --scale paper --output runs/lite_paper   # HeavyDenoiseNet teacher

A teacher (a zoo network; tiny: LiteDenoiseNet with 4× the students' steps, paper: HeavyDenoiseNet) is
trained on the built-in σ = 25 data, or reused from OUTPUT/teacher when it is already trained. Then two
students of the ``lite_denoise`` space (by default its baseline, LiteDenoiseNet) are trained with the same
initialisation, steps and crop schedule: one with α = 0.9 (teacher distillation), one with α = 0 (clean
targets only). All three are evaluated on the same held-out photographs and timed together in
onnxruntime. ``summary.json`` holds ``teacher``, ``student_kd`` and ``student_clean`` (also under the
API's names ``found`` and ``baseline``), ``gap_closed`` — the share of the α = 0 → teacher PSNR gap that
distillation closes, null when the teacher is not better than the α = 0 student — and ``settings``. The
distilled student's ONNX graph is checked against the ``npu_native`` operator allow-list.
Settings live in examples/lite_denoise.yaml; ``--set students.steps=300`` overrides one.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

import nasbench
from nasbench.errors import NasbenchError
from nasbench.latency import LatencyTable, measure_latencies
from nasbench.config import build_config, check_keys, read_config
from nasbench.train.distill import distill

HERE = Path(__file__).resolve().parent
STUDENTS = {"student_kd": None, "student_clean": 0.0}  # name -> α (None: the configured students.alpha)
ALLOWED = {  # the settings' sections and their options (None: not checked here; data go to builtin_data)
    "threads": None,
    "seed": None,
    "data": None,
    "teacher": {"model", "steps", "crop", "batch_size", "lr", "loss"},
    "students": {"space", "architecture", "steps", "crop_schedule", "lr", "alpha", "cache"},
    "latency": {"input", "protocol"},
}


def settings(scale: str, overrides: list[str]) -> dict[str, Any]:
    """examples/lite_denoise.yaml's section ``scale`` with ``--set`` overrides; unknown keys are refused."""
    defaults = read_config(HERE / "lite_denoise.yaml", scale)
    return build_config(defaults, lambda config: check_keys(config, ALLOWED), overrides=overrides)


def shipped_table(space: nasbench.SearchSpace, size: list[int]) -> LatencyTable | None:
    """The shipped one-thread latency table of ``space`` at ``size`` (square sizes only), if complete."""
    path = Path(nasbench.__file__).parent / "profiles" / "tables" / f"{space.name}_{size[0]}_t1.yaml"
    if size[0] != size[1] or not path.exists():
        return None
    table = LatencyTable.load(path)
    return None if table.missing(space, size) else table


def record(model: nn.Module, name: str, val: list, size: list[int], predicted: float | None) -> dict[str, Any]:
    quality = nasbench.evaluate(model, val)
    return {
        "architecture": name,
        "params": nasbench.count_params(model),
        "macs": nasbench.count_macs(model, (3, *size)),
        "predicted_latency_ms": predicted,
        "psnr_db": quality["psnr_db"],
        "ssim": quality["ssim"],
    }


def train_teacher(cfg: dict[str, Any], out: Path) -> nn.Module:
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
    return teacher.eval()


def gap_closed(teacher_db: float, kd_db: float, clean_db: float) -> float | None:
    """(kd − clean) / (teacher − clean); None when the teacher is not better than the α = 0 student."""
    return (kd_db - clean_db) / (teacher_db - clean_db) if teacher_db > clean_db else None


def run(cfg: dict[str, Any], scale: str, out: Path) -> dict[str, Any]:
    if cfg.get("threads"):
        torch.set_num_threads(cfg["threads"])
    out.mkdir(parents=True, exist_ok=True)
    start, load = time.perf_counter(), os.getloadavg()[0]
    s = cfg["students"]
    space = nasbench.load_space(s["space"])
    arch = space.baseline() if s["architecture"] is None else space.architecture(s["architecture"])
    student_name = "lite_denoise_net" if arch == space.baseline() and space.name == "lite_denoise" else str(arch)
    size = list(cfg["latency"]["input"])
    table = shipped_table(space, size)
    predicted = table.predict(space, arch, size) if table is not None else None

    teacher = train_teacher(cfg, out)
    times = {"teacher_s": time.perf_counter() - start}
    train, val = nasbench.builtin_data(**cfg["data"], crop=s["crop_schedule"][0][1], seed=cfg["seed"])
    models: dict[str, nn.Module] = {"teacher": teacher}
    for name, alpha in STUDENTS.items():
        began = time.perf_counter()
        torch.manual_seed(cfg["seed"])  # the same initialisation for both students
        student = space.build(arch)
        distill(
            student,
            teacher,
            train,
            steps=s["steps"],
            alpha=s["alpha"] if alpha is None else alpha,
            lr=s["lr"],
            crop_schedule=s["crop_schedule"],
            cache=s["cache"],
            seed=cfg["seed"],
            checkpoint_dir=out / name,
            resume=True,
        )
        models[name] = student.eval()
        times[f"{name}_s"] = time.perf_counter() - began

    summary: dict[str, Any] = {
        "teacher": record(teacher, cfg["teacher"]["model"], val, size, None),
        **{name: record(models[name], student_name, val, size, predicted) for name in STUDENTS},
    }
    for name, m in measure_latencies(models, (1, 3, *size), **cfg["latency"]["protocol"]).items():
        summary[name]["latency_ms"] = m.median_ms
    student_onnx = nasbench.export_onnx(models["student_kd"], out / "student_kd.onnx", (1, 3, *size))
    violations = nasbench.check_operators(student_onnx, "npu_native")
    teacher_db, kd_db, clean_db = (summary[k]["psnr_db"] for k in ("teacher", "student_kd", "student_clean"))
    summary["baseline"], summary["found"] = summary["student_clean"], summary["student_kd"]
    summary["gap_db"] = teacher_db - clean_db
    summary["kd_gain_db"] = kd_db - clean_db
    summary["gap_closed"] = gap_closed(teacher_db, kd_db, clean_db)
    summary["settings"] = {
        "scale": scale,
        **cfg,
        "student_architecture": str(arch),
        "npu_native_violations": len(violations),
        "wall_time_s": round(time.perf_counter() - start, 1),
        "load_average_1min": [round(load, 2), round(os.getloadavg()[0], 2)],  # at the start and the end
        **{key: round(value, 1) for key, value in times.items()},
    }
    for name, model in models.items():
        torch.save(model.state_dict(), out / f"{name}.pt")
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
