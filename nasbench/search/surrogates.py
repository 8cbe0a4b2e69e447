"""Feature-wise surrogates ("digital twins") of candidate blocks, for training-free architecture scoring.

The saliency-guided MOBO method ("Towards Efficient Image Deblurring for Edge Deployment") does not
train the networks it scores. Instead, every hardware-friendly candidate block is trained once to behave
like the original block it would replace: it sees the trained baseline network's (the *teacher's*)
features entering that position and learns to reproduce the features the original block hands on
(a feature-level distillation on a fraction of the training data). Any architecture is then scored by
stitching those twins into the teacher (:meth:`Surrogates.stitch`) and running one forward pass over
validation images (:class:`~nasbench.search.evaluator.TrainingFreeEvaluator`).

:func:`distill_surrogates` trains all twins together: forward hooks on the teacher's position modules
record each block's input and output, so **one teacher pass per batch** feeds every student of every
position. See docs/surrogates.md.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from nasbench.blocks.registry import block_info, create_block
from nasbench.errors import ModelError, NasbenchError, known, suggest
from nasbench.registry import Registry
from nasbench.space import Architecture, Candidate, Position, SearchSpace
from nasbench.train.checkpoint import (
    atomic_write,
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from nasbench.train.errors import TrainingError
from nasbench.train.loop import ADAMW_BETAS, Loss, StepBatches, get_loss, list_losses, lr_factor, optimizer_step

CHECKPOINT_NAME = "surrogates-checkpoint.pt"
WEIGHTS_NAME = "surrogates.pt"
TABLE_NAME = "surrogates.csv"
MANIFEST_NAME = "surrogates.json"
FORMAT_VERSION = 1
DEFAULT_EVAL_BATCHES = 4

INITS = ("warm", "own")
ERROR_COLUMNS = (
    "position",
    "label",
    "block",
    "feature_mse",
    "relative_error",
    "initial_mse",
    "identity_mse",
    "identity_relative_error",
    "teacher_mean_square",
    "steps",
)
# The BatchNorm scale a conv_bn_relu student starts with: small, so the block starts near the identity.
NEAR_IDENTITY_SCALE = 1e-2

# (position name, candidate label)
Key = tuple[str, str]
Sample = tuple[torch.Tensor, torch.Tensor]
StudentInit = Callable[[nn.Module, nn.Module], None]
StudentInitT = TypeVar("StudentInitT", bound=StudentInit)


class SurrogateError(NasbenchError):
    """A missing surrogate, surrogates of another space, or a directory that holds no saved surrogates."""


_STUDENT_INITS: Registry[StudentInit] = Registry("student initialiser", SurrogateError)


def register_student_init(block: str) -> Callable[[StudentInitT], StudentInitT]:
    """Decorator: register ``fn(student, original)`` as the starting point of students of block ``block``
    under ``init="warm"``. It runs under ``no_grad`` after the shared weights were copied from the
    teacher's ``original`` block, and changes ``student`` in place."""
    return _STUDENT_INITS.register(block)


@register_student_init("conv_bn_relu")
def conv_bn_relu_near_identity(student: nn.Module, original: nn.Module) -> None:
    """x + ReLU(BN(Conv(x))) with BN's scale at 1 adds a unit-scale branch: far from any original block,
    and far too far for a few hundred steps at lr 1e-3 to undo. A scale of ``NEAR_IDENTITY_SCALE`` starts
    the block near the identity — where NAFNet blocks (β = γ = 0) start — while, unlike a zero scale,
    still letting gradients through the ReLU."""
    student.bn.weight.fill_(NEAR_IDENTITY_SCALE)


@dataclass(frozen=True)
class FeatureError:
    """How well one surrogate imitates its position's original block, measured in eval mode on fixed
    samples (means over all N×C×H×W elements of those samples).

    ``mse`` — mean squared error between the surrogate's output and the original block's output, after
    distillation; ``initial_mse`` — the same before distillation; ``teacher_mean_square`` — mean square of
    the original block's output (the scale ``mse`` is relative to); ``identity_mse`` — the error of
    passing the input through unchanged (what deleting the block would cost).
    """

    mse: float
    initial_mse: float
    teacher_mean_square: float
    identity_mse: float


# ---------------------------------------------------------------------- the teacher
def check_teacher(space: SearchSpace, teacher: nn.Module) -> dict[str, str]:
    """Check that ``teacher`` is the baseline network of ``space`` (``space.build(space.baseline())``,
    trained or not); return position name → module path inside it.

    Raises :class:`~nasbench.errors.ModelError` naming what does not fit: no ``position_names``, other
    positions, another block class at a position, or a parameter or buffer of another name or shape.
    """
    how = "build the teacher with space.build(space.baseline())"
    names = getattr(teacher, "position_names", None)
    if not isinstance(names, Mapping):
        raise ModelError(
            f"teacher: a {type(teacher).__name__} without position_names does not fit space {space.name!r}; {how}"
        )
    expected = [p.name for p in space.positions]
    if sorted(names.values()) != sorted(expected):
        raise ModelError(
            f"teacher: its positions ({', '.join(names.values())}) are not those of space {space.name!r} "
            f"{known(expected)}; {how}"
        )
    paths = {position: path for path, position in names.items()}
    for position in space.positions:
        module = teacher.get_submodule(paths[position.name])
        original = position.candidates[0]
        cls = block_info(original.block).cls
        if type(module) is not cls:
            raise ModelError(
                f"teacher: position {position.name} holds a {type(module).__name__}, but the baseline of space "
                f"{space.name!r} has {original.block!r} ({cls.__name__}) there; {how}"
            )
    with torch.device("meta"):  # shapes only: no memory, no initialisation, no draw from the global RNG
        reference = {k: tuple(v.shape) for k, v in space.build(space.baseline()).state_dict().items()}
    actual = {k: tuple(v.shape) for k, v in teacher.state_dict().items()}
    for key, shape in reference.items():
        if key not in actual:
            raise ModelError(f"teacher: parameter or buffer {key!r} of space {space.name!r} is missing; {how}")
        if actual[key] != shape:
            raise ModelError(
                f"teacher: {key!r} has shape {_shape(actual[key])}, space {space.name!r} needs {_shape(shape)}; {how}"
            )
    extra = [k for k in actual if k not in reference]
    if extra:
        raise ModelError(f"teacher: {extra[0]!r} is not a parameter of space {space.name!r}'s baseline; {how}")
    return paths


@contextmanager
def _tap(teacher: nn.Module, paths: Mapping[str, str]) -> Iterator[dict[str, tuple[torch.Tensor, torch.Tensor]]]:
    """Forward hooks on the teacher's blocks at ``paths`` (position → module path): after each teacher
    pass, the yielded dict holds position → (block input, block output), detached copies. The hooks are
    removed on exit, and the teacher's train/eval mode is restored."""
    features: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def hook(position: str) -> Callable[[nn.Module, tuple[Any, ...], Any], None]:
        def record(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
            if len(args) != 1 or not isinstance(args[0], torch.Tensor) or not isinstance(output, torch.Tensor):
                raise ModelError(f"teacher: the block at position {position} must take and return one N×C×H×W tensor")
            # Copies: the backbone could change a tensor in place after the block has returned it.
            features[position] = (args[0].detach().clone(), output.detach().clone())

        return record

    handles = [teacher.get_submodule(path).register_forward_hook(hook(position)) for position, path in paths.items()]
    was_training = teacher.training
    teacher.eval()
    try:
        yield features
    finally:
        for handle in handles:
            handle.remove()
        teacher.train(was_training)


# ---------------------------------------------------------------------- the surrogates
class Surrogates:
    """Distilled surrogate blocks of a space: ``blocks[(position, label)]`` imitates the original block
    at ``position`` with candidate ``label``'s block (each an N×C×H×W → N×C×H×W ``nn.Module``).

    ``history[(position, label)]`` — the training feature MSE of each distillation step (train mode);
    ``measurements[(position, label)]`` — a :class:`FeatureError` after distillation; ``settings`` — the
    distillation settings. :meth:`errors` tabulates the measurements; :meth:`stitch` puts the surrogates
    into a trained teacher.
    """

    def __init__(
        self,
        space: SearchSpace,
        blocks: Mapping[Key, nn.Module],
        *,
        history: Mapping[Key, Sequence[float]] | None = None,
        measurements: Mapping[Key, FeatureError] | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        for key, block in blocks.items():
            candidate = _alternative(space, key)
            cls = block_info(candidate.block).cls
            if type(block) is not cls:
                raise SurrogateError(
                    f"surrogate ({key[0]}, {key[1]}): a {type(block).__name__}, but candidate {key[1]!r} is "
                    f"block {candidate.block!r} ({cls.__name__})"
                )
        self.space = space
        self.blocks: dict[Key, nn.Module] = {key: blocks[key] for key in _ordered(space, blocks)}
        self.history: dict[Key, list[float]] = {k: list(v) for k, v in (history or {}).items()}
        self.measurements: dict[Key, FeatureError] = dict(measurements or {})
        self.settings: dict[str, Any] = dict(settings or {})

    def __len__(self) -> int:
        return len(self.blocks)

    def __contains__(self, key: object) -> bool:
        return key in self.blocks

    def __repr__(self) -> str:
        positions = len({position for position, _ in self.blocks})
        return f"Surrogates({self.space.name!r}, blocks={len(self.blocks)}, positions={positions})"

    # ------------------------------------------------------------------ the errors table
    def errors(self) -> pd.DataFrame:
        """One row per surrogate, in the space's position and candidate order, with columns

        ``position``, ``label``, ``block``; ``feature_mse`` (after distillation) and ``relative_error``
        = ``feature_mse`` / ``teacher_mean_square``; ``initial_mse`` (before distillation);
        ``identity_mse`` and ``identity_relative_error`` — the same for passing the input through
        unchanged, for reference; ``teacher_mean_square``; ``steps`` (distillation steps run).
        Unmeasured surrogates (built by hand) have NaN errors.
        """
        nan = float("nan")
        rows = []
        for position, label in self.blocks:
            m = self.measurements.get((position, label), FeatureError(nan, nan, nan, nan))
            rows.append(
                {
                    "position": position,
                    "label": label,
                    "block": self.space.position(position).candidate(label).block,
                    "feature_mse": m.mse,
                    "relative_error": _ratio(m.mse, m.teacher_mean_square),
                    "initial_mse": m.initial_mse,
                    "identity_mse": m.identity_mse,
                    "identity_relative_error": _ratio(m.identity_mse, m.teacher_mean_square),
                    "teacher_mean_square": m.teacher_mean_square,
                    "steps": len(self.history.get((position, label), [])),
                }
            )
        return pd.DataFrame(rows, columns=ERROR_COLUMNS)

    # ------------------------------------------------------------------ stitching
    def stitch(self, teacher: nn.Module, arch: Architecture | str) -> nn.Module:
        """A plain network ``space.build(arch)`` (eval mode, on the teacher's device) whose positions that
        keep the baseline candidate, and all parts outside the positions, carry copies of the teacher's
        weights, and whose substituted positions carry copies of the surrogates' weights.

        ``teacher`` must fit the space (:func:`check_teacher`). A substituted position without a surrogate
        raises :class:`SurrogateError` naming the missing (position, label) pairs. Stitching the baseline
        reproduces the teacher exactly.
        """
        paths = check_teacher(self.space, teacher)
        arch = self.space.architecture(arch) if isinstance(arch, str) else arch
        self.space.indices(arch)  # raises ArchitectureError when arch is of another space
        substituted = [(p.name, arch[p.name]) for p in self.space.positions if arch[p.name] != p.candidates[0].label]
        missing = [key for key in substituted if key not in self.blocks]
        if missing:
            pairs = ", ".join(f"({p}, {label})" for p, label in missing)
            have = ", ".join(f"({p}, {label})" for p, label in self.blocks) or "none"
            raise SurrogateError(
                f"stitch {arch}: no surrogate for {pairs}; distilled surrogates: {have} "
                "(distill_surrogates(..., positions=...) covers only the positions it is given)"
            )
        with torch.random.fork_rng(devices=[]):  # its initial weights are all overwritten: leave the RNG be
            network = self.space.build(arch)
        block_paths = {position: path for path, position in network.position_names.items()}
        inside = tuple(path + "." for path in paths.values())
        state = {k: v for k, v in teacher.state_dict().items() if not k.startswith(inside)}
        for position in self.space.positions:
            label = arch[position.name]
            source = (
                teacher.get_submodule(paths[position.name])
                if label == position.candidates[0].label
                else self.blocks[(position.name, label)]
            )
            state.update({f"{block_paths[position.name]}.{k}": v for k, v in source.state_dict().items()})
        network.load_state_dict(state)
        device = next(teacher.parameters(), torch.empty(0)).device
        return network.to(device).eval()

    # ------------------------------------------------------------------ files
    def save(self, directory: str | Path) -> Path:
        """Write ``directory``/``surrogates.pt`` (one flat state dict, keys ``position/label/parameter``,
        readable with ``torch.load(weights_only=True)``), ``surrogates.csv`` (:meth:`errors`) and
        ``surrogates.json`` (the space, the surrogates' blocks and options, the settings, measurements and
        history). Each file is replaced atomically. Returns the directory."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        weights = {
            f"{position}/{label}/{name}": tensor.detach().cpu()
            for (position, label), block in self.blocks.items()
            for name, tensor in block.state_dict().items()
        }
        save_checkpoint(out / WEIGHTS_NAME, weights)
        _write_text(out / TABLE_NAME, self.errors().to_csv(index=False))
        entries = []
        for key in self.blocks:
            candidate = self.space.position(key[0]).candidate(key[1])
            measurement = self.measurements.get(key)
            entries.append(
                {
                    "position": key[0],
                    "label": key[1],
                    "block": candidate.block,
                    "options": candidate.kwargs,
                    "measurement": asdict(measurement) if measurement is not None else None,
                    "history": self.history.get(key, []),
                }
            )
        manifest = {
            "format": FORMAT_VERSION,
            "space_name": self.space.name,
            "space": self.space.to_dict(),
            "surrogates": entries,
            "settings": self.settings,
            # The manifest is written last and names the weights it belongs to, so a save killed between
            # the files leaves a directory that load() refuses instead of one that mixes two saves.
            "weights_sha256": _sha256(out / WEIGHTS_NAME),
        }
        _write_text(out / MANIFEST_NAME, json.dumps(manifest, indent=2, default=list) + "\n")
        return out

    @classmethod
    def load(cls, directory: str | Path, space: SearchSpace) -> Surrogates:
        """Read surrogates written by :meth:`save` for ``space``. Raises :class:`SurrogateError` when the
        directory or its files are missing, or when they were distilled for another space (or another
        definition of a space of the same name)."""
        folder = Path(directory)
        if not folder.is_dir():
            raise SurrogateError(f"{folder}: no such surrogate directory")
        manifest_path = folder / MANIFEST_NAME
        if not manifest_path.is_file():
            raise SurrogateError(f"{manifest_path}: missing; {folder} holds no surrogates (see Surrogates.save)")
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SurrogateError(f"{manifest_path}: not a surrogate manifest: {exc}") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_VERSION:
            raise SurrogateError(f"{manifest_path}: not a surrogate manifest of format {FORMAT_VERSION}")
        if manifest.get("space_name") != space.name:
            raise SurrogateError(
                f"{manifest_path}: surrogates of space {manifest.get('space_name')!r}, not of {space.name!r}"
            )
        if manifest.get("space") != json.loads(json.dumps(space.to_dict(), default=list)):
            raise SurrogateError(
                f"{manifest_path}: distilled for another definition of space {space.name!r} "
                "(its backbone, positions or candidates differ)"
            )
        if not (folder / WEIGHTS_NAME).is_file():
            raise SurrogateError(f"{folder / WEIGHTS_NAME}: missing; the weights belong next to {MANIFEST_NAME}")
        expected = manifest.get("weights_sha256")
        if expected is not None and expected != _sha256(folder / WEIGHTS_NAME):
            raise SurrogateError(
                f"{folder / WEIGHTS_NAME}: not the weights {MANIFEST_NAME} was written with "
                "(an interrupted or mixed save); distill the surrogates again"
            )
        weights = load_checkpoint(folder / WEIGHTS_NAME)
        blocks: dict[Key, nn.Module] = {}
        history: dict[Key, list[float]] = {}
        measurements: dict[Key, FeatureError] = {}
        entries = manifest.get("surrogates")
        fields = ("position", "label", "measurement", "history")
        if not isinstance(entries, list) or not all(
            isinstance(e, dict) and all(f in e for f in fields) for e in entries
        ):
            raise SurrogateError(f"{manifest_path}: 'surrogates' must be a list of entries with {', '.join(fields)}")
        for entry in entries:
            key = (entry["position"], entry["label"])
            candidate = _alternative(space, key)
            block = create_block(candidate.block, space.position(key[0]).channels, **candidate.kwargs)
            prefix = f"{key[0]}/{key[1]}/"
            state = {name[len(prefix) :]: tensor for name, tensor in weights.items() if name.startswith(prefix)}
            try:
                block.load_state_dict(state)
            except RuntimeError as exc:
                raise SurrogateError(
                    f"{folder / WEIGHTS_NAME}: the weights of ({key[0]}, {key[1]}) do not fit block "
                    f"{candidate.block!r}: {str(exc).strip().splitlines()[0]}"
                ) from None
            blocks[key] = block.eval()
            history[key] = [float(v) for v in entry["history"]]
            if entry["measurement"] is not None:
                measurements[key] = FeatureError(**entry["measurement"])
        return cls(space, blocks, history=history, measurements=measurements, settings=manifest.get("settings"))


# ---------------------------------------------------------------------- distillation
def distill_surrogates(
    space: SearchSpace,
    teacher: nn.Module,
    data: Dataset[Sample],
    *,
    fraction: float = 0.25,
    steps: int = 200,
    batch_size: int = 4,
    lr: float = 1e-3,
    loss: str | Loss = "mse",
    positions: Sequence[str] | None = None,
    output: str | Path | None = None,
    resume: bool = False,
    checkpoint_every: int = 50,
    seed: int = 0,
    progress: bool = True,
    grad_clip: float | None = None,
    eval_batches: int = DEFAULT_EVAL_BATCHES,
    init: str = "warm",
) -> Surrogates:
    """Distil a surrogate for every alternative candidate (all but the first) of every searchable position
    of ``space`` — or of the positions named in ``positions`` — from the frozen trained ``teacher``.

    - ``teacher``: the trained baseline network, ``space.build(space.baseline())`` (:func:`check_teacher`).
      It runs in eval mode under ``no_grad`` and is left as it was (mode restored, hooks removed).
    - ``data``: (degraded, clean) 3×H×W samples, e.g. a :class:`~nasbench.train.data.CropDataset`; only the
      degraded images are used. ``fraction`` ∈ (0, 1] of its items, a subset fixed by ``seed``, is used.
    - Per step, one teacher pass over a batch of ``batch_size`` samples records every position's block
      input X and output Y (forward hooks); each student S then takes one AdamW step (lr ``lr``, betas
      (0.9, 0.9), cosine schedule to lr·1e-3) on ``loss(S(X), Y)`` (a registered loss name or a callable),
      its gradient clipped to ``grad_clip`` on its own. Students are independent: each has its own
      parameters, optimizer and initial weights seeded by (``seed``, position, label), so a student comes
      out the same whatever other positions are distilled with it.
    - ``init``: each student starts from its block's own initialisation, seeded by (``seed``, position,
      label). ``"warm"`` (default) then copies every parameter and buffer it shares by name and shape
      with the teacher's original block — ``naf_bn`` and ``naf_lite`` inherit the ``naf`` block's
      convolutions, norm affines and β/γ; an ``ssm`` shares nothing with a Restormer block (its GDFN is
      narrower, its norms are named differently) and starts from its own initialisation — and applies
      the block's registered start (:func:`register_student_init`; ``conv_bn_relu`` starts near the
      identity). ``"own"`` keeps the block's own initialisation.
    - A parameter-free candidate (``identity``) has nothing to distil: it is not trained (0 steps, no
      optimizer, no checkpoint entry), but its feature error is measured and reported like any other's.
    - Before and after training, the feature errors of every student are measured in eval mode on
      ``eval_batches`` batches of fixed samples (:class:`FeatureError`): items of ``data`` outside the
      training subset when there are enough, else the first items of the subset.
    - With ``output``, ``<output>/surrogates-checkpoint.pt`` (all students, optimizers, schedules, step,
      history, RNG states) is replaced atomically every ``checkpoint_every`` steps and after the last;
      ``resume=True`` continues it, bitwise as an uninterrupted run, and needs the same settings.
    - A non-finite loss or gradient stops the run with :class:`TrainingError` naming the step, position,
      candidate and the last good checkpoint, which is left untouched.

    Returns :class:`Surrogates` (students in eval mode, on the teacher's device). ``output`` does not
    receive the surrogates themselves; call :meth:`Surrogates.save`.
    """
    _check_settings(fraction, steps, batch_size, lr, checkpoint_every, grad_clip, eval_batches)
    if init not in INITS:
        raise TrainingError(f"distill_surrogates: unknown init {init!r} {known(INITS)}")
    if isinstance(loss, str) and loss not in list_losses():
        raise TrainingError(
            f"distill_surrogates: unknown loss {loss!r} {known(list_losses())}{suggest(loss, list_losses())}"
        )
    size = len(data)  # type: ignore[arg-type]  # map-style datasets have a length
    if size == 0:
        raise TrainingError("distill_surrogates: the training data are empty")
    paths = check_teacher(space, teacher)
    chosen = _chosen_positions(space, positions)
    keys = [(p.name, c.label) for p in chosen for c in p.candidates[1:]]
    loss_fn = get_loss(loss)
    order = np.random.default_rng([seed, size]).permutation(size)
    subset = np.sort(order[: max(1, round(fraction * size))])
    measure = _measurement_items(order, len(subset), eval_batches * batch_size)
    settings = {
        "space": space.name,
        "surrogates": [_name(key) for key in keys],
        "fraction": float(fraction),
        "train_samples": int(len(subset)),
        "data_samples": size,
        "steps": steps,
        "batch_size": batch_size,
        "lr": float(lr),
        "loss": loss if isinstance(loss, str) else getattr(loss, "__qualname__", repr(loss)),
        "grad_clip": grad_clip,
        "eval_batches": eval_batches,
        "init": init,
        "seed": seed,
    }
    path = Path(output) / CHECKPOINT_NAME if output is not None else None
    if resume and path is None:
        raise TrainingError("distill_surrogates: resume=True needs an output directory")
    if path is not None and path.exists() and not resume:
        raise TrainingError(f"{path}: a checkpoint exists; pass resume=True to continue it, or choose another output")

    device = next(teacher.parameters(), torch.empty(0)).device
    blocks = {
        key: _new_student(space, key, seed, teacher.get_submodule(paths[key[0]]), init).to(device) for key in keys
    }
    # A parameter-free candidate (``identity``) has nothing to learn: it is measured, never trained.
    students = {key: _Student(block, lr, steps) for key, block in blocks.items() if _trainable(block)}
    with _tap(teacher, {p.name: paths[p.name] for p in chosen}) as features:
        if resume and path is not None and path.exists():
            start, history, initial = _resume(path, settings, students, keys)
        else:
            torch.manual_seed(seed)
            np.random.seed(seed)
            random.seed(seed)
            start, history = 0, {key: [] for key in keys}
            initial = {key: m[0] for key, m in _measure(teacher, features, blocks, data, measure, batch_size).items()}
        last_good = path if path is not None and path.exists() else None
        for student in students.values():
            student.block.train()
        last = steps if students else start  # nothing to train: no step, no teacher pass
        batches = StepBatches(len(subset), batch_size, seed, last, start + 1)
        with tqdm(total=last, initial=start, disable=not progress, desc="surrogates", unit="step") as bar:
            for step, places in enumerate(batches, start=start + 1):
                with torch.no_grad():
                    teacher(torch.stack([data[int(subset[i])][0] for i in places]).to(device))
                for key, student in students.items():
                    try:
                        history[key].append(student.step(*features[key[0]], loss_fn, step, grad_clip, last_good))
                    except TrainingError as exc:
                        raise TrainingError(
                            f"distill_surrogates: position {key[0]}, candidate {key[1]}: {exc}"
                        ) from None
                if path is not None and (step % checkpoint_every == 0 or step == steps):
                    state = {
                        "step": step,
                        "students": {_name(k): s.state_dict() for k, s in students.items()},
                        "rng": capture_rng_state(),
                        "history": {_name(k): v for k, v in history.items()},
                        "initial": {_name(k): v for k, v in initial.items()},
                        "settings": settings,
                    }
                    last_good = save_checkpoint(path, state)
                bar.update(1)
                bar.set_postfix(mse=f"{np.mean([history[k][-1] for k in students]):.3g}")
        final = _measure(teacher, features, blocks, data, measure, batch_size)
    measurements = {key: FeatureError(final[key][0], initial[key], final[key][1], final[key][2]) for key in keys}
    blocks = {key: block.eval() for key, block in blocks.items()}
    return Surrogates(space, blocks, history=history, measurements=measurements, settings=settings)


def _trainable(block: nn.Module) -> bool:
    """Whether ``block`` has a parameter to distil (``identity`` has none)."""
    return any(p.requires_grad for p in block.parameters())


class _Student:
    """One student block with its own AdamW optimizer and cosine schedule (lr → lr·1e-3 at ``steps``)."""

    def __init__(self, block: nn.Module, lr: float, steps: int) -> None:
        self.block = block
        self.params = [p for p in block.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.params, lr=lr, betas=ADAMW_BETAS, weight_decay=0.0)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda s: lr_factor(s, steps))

    def step(
        self,
        block_in: torch.Tensor,
        block_out: torch.Tensor,
        loss_fn: Loss,
        step: int,
        grad_clip: float | None,
        last_good: Path | None,
    ) -> float:
        """One optimizer step towards ``block_out`` from ``block_in``; returns the feature MSE on the batch
        (train mode, before the step). Non-finite loss or gradients raise :class:`TrainingError`."""
        self.optimizer.zero_grad(set_to_none=True)
        pred = self.block(block_in)
        optimizer_step(
            loss_fn(pred, block_out), step, self.params, self.optimizer, self.scheduler, grad_clip, last_good
        )
        return F.mse_loss(pred.detach(), block_out).item()

    def state_dict(self) -> dict[str, Any]:
        return {
            "block": self.block.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.block.load_state_dict(state["block"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])


def _measure(
    teacher: nn.Module,
    features: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
    blocks: Mapping[Key, nn.Module],
    data: Dataset[Sample],
    items: Sequence[int],
    batch_size: int,
) -> dict[Key, tuple[float, float, float]]:
    """Per student block, in eval mode over ``items``: (feature MSE, teacher output mean square, identity
    MSE), each a mean over all elements — one teacher pass per batch."""
    device = next(teacher.parameters(), torch.empty(0)).device
    sums = {key: [0.0, 0.0, 0.0] for key in blocks}
    elements = dict.fromkeys(blocks, 0)
    modes = {key: block.training for key, block in blocks.items()}
    for block in blocks.values():
        block.eval()
    try:
        with torch.no_grad():
            for first in range(0, len(items), batch_size):
                teacher(torch.stack([data[int(i)][0] for i in items[first : first + batch_size]]).to(device))
                for key, block in blocks.items():
                    block_in, block_out = features[key[0]]
                    total = sums[key]
                    total[0] += (block(block_in) - block_out).double().pow(2).sum().item()
                    total[1] += block_out.double().pow(2).sum().item()
                    total[2] += (block_in - block_out).double().pow(2).sum().item()
                    elements[key] += block_out.numel()
    finally:
        for key, block in blocks.items():
            block.train(modes[key])
    return {key: (s[0] / elements[key], s[1] / elements[key], s[2] / elements[key]) for key, s in sums.items()}


def _resume(
    path: Path, settings: Mapping[str, Any], students: Mapping[Key, _Student], keys: Sequence[Key]
) -> tuple[int, dict[Key, list[float]], dict[Key, float]]:
    """Load the checkpoint at ``path`` into the (trainable) students and the global RNGs; its step, and
    the history and initial errors of every surrogate in ``keys``."""
    state = load_checkpoint(path)
    missing = [k for k in ("step", "students", "rng", "history", "initial", "settings") if k not in state]
    if missing:
        raise TrainingError(f"{path}: not a surrogate checkpoint: missing {', '.join(missing)}")
    for key, value in settings.items():
        saved = state["settings"].get(key)
        if saved != value:
            raise TrainingError(
                f"{path}: resume: the checkpoint has {key}={saved!r} but this call {key}={value!r}; "
                "resuming is exact only with the same settings"
            )
    for key, student in students.items():
        student.load_state_dict(state["students"][_name(key)])
    restore_rng_state(state["rng"])
    history = {key: [float(v) for v in state["history"][_name(key)]] for key in keys}
    initial = {key: float(state["initial"][_name(key)]) for key in keys}
    return int(state["step"]), history, initial


# ---------------------------------------------------------------------- helpers
def _check_settings(
    fraction: float,
    steps: int,
    batch_size: int,
    lr: float,
    checkpoint_every: int,
    grad_clip: float | None,
    eval_batches: int,
) -> None:
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0.0 < fraction <= 1.0:
        raise TrainingError(f"distill_surrogates: fraction must be a number in (0, 1], got {fraction!r}")
    for name, value, minimum in (
        ("steps", steps, 1),
        ("batch_size", batch_size, 1),
        ("checkpoint_every", checkpoint_every, 1),
        ("eval_batches", eval_batches, 1),
    ):
        if isinstance(value, bool) or not (isinstance(value, int) and value >= minimum):
            raise TrainingError(f"distill_surrogates: {name} must be an integer ≥ {minimum}, got {value!r}")
    if not (isinstance(lr, int | float) and math.isfinite(lr) and lr > 0):
        raise TrainingError(f"distill_surrogates: lr must be a finite number > 0, got {lr!r}")
    if grad_clip is not None and not grad_clip > 0:
        raise TrainingError(f"distill_surrogates: grad_clip must be > 0 or None, got {grad_clip!r}")


def _chosen_positions(space: SearchSpace, positions: Sequence[str] | None) -> list[Position]:
    searchable = [p.name for p in space.searchable_positions]
    if positions is None:
        if not searchable:
            raise SurrogateError(f"space {space.name!r} has no searchable position; nothing to distil")
        return list(space.searchable_positions)
    if isinstance(positions, str):
        positions = [positions]
    if not positions:
        raise SurrogateError("distill_surrogates: positions is empty; pass None for every searchable position")
    wanted = set()
    for name in positions:
        position = space.position(name)  # ArchitectureError with a suggestion for an unknown name
        if not position.searchable:
            raise SurrogateError(
                f"distill_surrogates: position {name} has only its original candidate; nothing to distil "
                f"(searchable: {', '.join(searchable)})"
            )
        wanted.add(name)
    return [p for p in space.positions if p.name in wanted]


def _alternative(space: SearchSpace, key: Key) -> Candidate:
    """The candidate of ``key``, which must be an alternative (not the original) at its position."""
    position, label = key
    try:
        candidate = space.position(position).candidate(label)
    except NasbenchError as exc:
        raise SurrogateError(f"surrogate ({position}, {label}): {exc}") from None
    if label == space.position(position).candidates[0].label:
        raise SurrogateError(
            f"surrogate ({position}, {label}): {label!r} is the position's original block, which the teacher "
            "itself provides"
        )
    return candidate


def _new_student(space: SearchSpace, key: Key, seed: int, original: nn.Module, init: str) -> nn.Module:
    """The block of candidate ``key`` with its own initialisation, seeded by (seed, position, label); with
    ``init="warm"``, then the parameters and buffers it shares by name and shape with the teacher's
    ``original`` block copied from it, and the block's registered start applied."""
    candidate = space.position(key[0]).candidate(key[1])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(zlib.crc32(f"{seed}/{key[0]}/{key[1]}".encode()))
        student = create_block(candidate.block, space.position(key[0]).channels, **candidate.kwargs)
    if init == "warm":
        source = original.state_dict()
        state = student.state_dict()
        shared = {k: source[k] for k, v in state.items() if k in source and source[k].shape == v.shape}
        student.load_state_dict({**state, **shared})
        if candidate.block in _STUDENT_INITS:
            with torch.no_grad():
                _STUDENT_INITS.get(candidate.block)(student, original)
    return student


def _measurement_items(order: np.ndarray, train_count: int, count: int) -> list[int]:
    """``count`` items for measuring feature errors: those following the training subset in the seeded
    permutation (never trained on) when enough remain, else the permutation's first items."""
    held_out = order[train_count : train_count + count]
    chosen = held_out if len(held_out) == min(count, len(order)) else order[:count]
    return [int(i) for i in chosen]


def _ordered(space: SearchSpace, keys: Iterable[Key]) -> list[Key]:
    """``keys`` in the space's position order, then candidate order."""
    rank = {(p.name, c.label): i for i, (p, c) in enumerate((p, c) for p in space.positions for c in p.candidates)}
    return sorted(keys, key=lambda k: rank[k])


def _name(key: Key) -> str:
    return f"{key[0]}/{key[1]}"


def _ratio(value: float, scale: float) -> float:
    """value / scale; NaN when the scale is 0 or unknown."""
    return value / scale if scale > 0 else float("nan")


def _shape(shape: Sequence[int]) -> str:
    return "×".join(map(str, shape)) or "scalar"


def _write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


__all__ = [
    "CHECKPOINT_NAME",
    "FeatureError",
    "Surrogates",
    "SurrogateError",
    "check_teacher",
    "conv_bn_relu_near_identity",
    "distill_surrogates",
    "register_student_init",
]
