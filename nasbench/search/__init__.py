"""Search engines: entropy-regularised DARTS and saliency-guided, training-free multi-objective BO."""

from nasbench.search.darts import DartsConfig, LatencyCost, darts
from nasbench.search.evaluator import Evaluator, FunctionEvaluator, TrainingFreeEvaluator
from nasbench.search.mobo import MoboConfig, MoboSampler, mobo, register_optimizer
from nasbench.search.objectives import Objective, list_objectives, register_additive
from nasbench.search.pareto import hypervolume, knee_point, pareto_mask
from nasbench.search.result import SearchResult
from nasbench.search.saliency import plot_saliency, protect, register_metric, restrict, saliency
from nasbench.search.surrogates import Surrogates, distill_surrogates

__all__ = [
    "DartsConfig",
    "Evaluator",
    "FunctionEvaluator",
    "LatencyCost",
    "MoboConfig",
    "MoboSampler",
    "Objective",
    "SearchResult",
    "Surrogates",
    "TrainingFreeEvaluator",
    "darts",
    "distill_surrogates",
    "hypervolume",
    "knee_point",
    "list_objectives",
    "mobo",
    "pareto_mask",
    "plot_saliency",
    "protect",
    "register_additive",
    "register_metric",
    "register_optimizer",
    "restrict",
    "saliency",
]
