"""compare_architectures: per-network starting weights (init) — a state dict or a callable — and errors."""

from __future__ import annotations

import pytest
import torch

from nasbench import NasbenchError, SearchSpace
from nasbench.errors import ModelError
from nasbench.search.summary import compare_architectures
from nasbench.train import builtin_images, evaluate, finetune, validation_pairs

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def table(toy_table):  # noqa: ANN001, ANN201
    return toy_table


@pytest.fixture(scope="module")
def data(toy_data):  # noqa: ANN001, ANN201
    return toy_data, validation_pairs(builtin_images("val"), "noise", max_side=32)


@pytest.fixture(scope="module")
def trained(toy_space: SearchSpace, data) -> dict[str, torch.Tensor]:
    """Weights of the toy baseline after 60 steps: much better than a fresh initialisation."""
    torch.manual_seed(1)
    model = toy_space.build(toy_space.baseline())
    finetune(model, data[0], steps=60, batch_size=4, lr=3e-3, progress=False)
    return {k: v.clone() for k, v in model.state_dict().items()}


def _compare(space, table, data, **kwargs):  # noqa: ANN001, ANN003, ANN202
    arch = space.baseline()
    return compare_architectures(
        space, {"a": arch, "b": arch}, data[0], data[1], table, finetune_steps=1, lr=1e-7, progress=False, **kwargs
    )


def test_init_state_dict_is_the_starting_point(toy_space, table, data, trained) -> None:
    # One step at lr 1e-7 barely moves the weights: the result shows where each network started.
    out = _compare(toy_space, table, data, init={"a": trained})
    start = toy_space.build(toy_space.baseline())
    start.load_state_dict(trained)
    assert out["a"]["psnr_db"] == pytest.approx(evaluate(start, data[1])["psnr_db"], abs=0.02)
    assert out["a"]["psnr_db"] > out["b"]["psnr_db"] + 0.5  # "b" was trained from scratch


def test_init_callable_gets_the_built_network(toy_space, table, data, trained) -> None:
    seen = []

    def load(model: torch.nn.Module) -> None:
        seen.append(type(model).__name__)
        model.load_state_dict(trained)

    with_fn = _compare(toy_space, table, data, init={"b": load})
    with_dict = _compare(toy_space, table, data, init={"b": trained})
    assert len(seen) == 1
    assert with_fn["b"]["psnr_db"] == pytest.approx(with_dict["b"]["psnr_db"], abs=1e-9)
    assert with_fn["a"]["psnr_db"] == pytest.approx(with_dict["a"]["psnr_db"], abs=1e-9)  # scratch both times


def test_bad_init_is_a_clear_error(toy_space, table, data, trained) -> None:
    with pytest.raises(NasbenchError, match=r"init names \['c'\] are not among the architectures \['a', 'b'\]"):
        _compare(toy_space, table, data, init={"c": trained})
    wrong = {k: v for k, v in trained.items() if not k.startswith("intro")}
    with pytest.raises(ModelError, match=r"init\['a'\] does not fit its architecture"):
        _compare(toy_space, table, data, init={"a": wrong})
    with pytest.raises(NasbenchError, match=r"init\['a'\] must be a state dict or a callable, got int"):
        _compare(toy_space, table, data, init={"a": 3})
