"""Pareto masks, hypervolume and knee points against brute force and BoTorch."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from nasbench import NasbenchError
from nasbench.search.pareto import hypervolume, hypervolume_history, knee_point, pareto_mask, reference_point


def _brute_mask(y: np.ndarray) -> np.ndarray:
    return np.array([not any((o <= p).all() and (o < p).any() for o in y) for p in y])


@pytest.mark.parametrize("m", [2, 3])
def test_mask_matches_brute_force(m) -> None:
    y = np.random.default_rng(m).integers(0, 6, (60, m)).astype(float)  # many ties and duplicates
    assert (pareto_mask(y) == _brute_mask(y)).all()


def test_two_objective_hypervolume_is_the_staircase_area() -> None:
    y = np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0], [3.5, 3.5]])
    # Dominated area inside the box to (4, 4), counted on a fine grid; by hand: 1·1 + 1·2 + 1·3.
    grid = np.linspace(0, 4, 401)[:-1] + 0.005
    cells = sum(any((p <= (x, z)).all() for p in y) for x, z in itertools.product(grid, grid)) * 0.01**2
    assert hypervolume(y, [4.0, 4.0]) == pytest.approx(cells, abs=0.05)
    assert hypervolume(y, [4.0, 4.0]) == pytest.approx(6.0)


def test_three_objective_hypervolume_matches_botorch() -> None:
    from botorch.utils.multi_objective.hypervolume import Hypervolume

    y = np.random.default_rng(0).uniform(0, 1, (40, 3))
    ref = np.array([1.1, 1.1, 1.1])
    front = y[pareto_mask(y)]
    expected = Hypervolume(torch.as_tensor(-ref)).compute(torch.as_tensor(-front))
    assert hypervolume(y, ref) == pytest.approx(float(expected), rel=1e-9)


def test_points_outside_the_reference_add_nothing() -> None:
    assert hypervolume([[5.0, 5.0]], [4.0, 4.0]) == 0.0
    assert hypervolume([[1.0, 1.0], [5.0, 0.0]], [4.0, 4.0]) == pytest.approx(9.0)


def test_history_is_monotone() -> None:
    y = np.random.default_rng(1).uniform(0, 1, (30, 2))
    h = hypervolume_history(y, [1.2, 1.2])
    assert len(h) == 30 and (np.diff(h) >= -1e-12).all() and h[-1] == pytest.approx(hypervolume(y, [1.2, 1.2]))


def test_knee_is_the_sharpest_trade_off() -> None:
    front = np.array([[0.0, 10.0], [1.0, 2.0], [2.0, 1.5], [10.0, 0.0], [5.0, 5.0]])
    assert knee_point(front) == 1
    assert knee_point(np.array([[1.0, 2.0], [2.0, 1.0]])) in (0, 1)  # two points: nearest the ideal


def test_reference_point_lies_beyond_the_worst() -> None:
    y = np.array([[1.0, 10.0], [3.0, 20.0]])
    assert reference_point(y).tolist() == pytest.approx([3.2, 21.0])


def test_bad_arrays_are_clear_errors() -> None:
    with pytest.raises(NasbenchError, match="n × m"):
        pareto_mask([1.0, 2.0])
    with pytest.raises(NasbenchError, match="finite"):
        pareto_mask([[1.0, float("nan")]])
    with pytest.raises(NasbenchError, match="2 objectives but a 3-dimensional reference"):
        hypervolume([[1.0, 2.0]], [1.0, 1.0, 1.0])
