"""Search engines: entropy-regularised DARTS (and, in later releases, saliency-guided MOBO)."""

from nasbench.search.darts import DartsConfig, LatencyCost, darts
from nasbench.search.result import SearchResult

__all__ = ["DartsConfig", "LatencyCost", "SearchResult", "darts"]
