"""nasbench — hardware-aware neural architecture search for image-restoration networks.

The public surface (see docs/): search spaces and architectures, the block registry, the model zoo,
parameter and MAC counting, and ONNX export.
"""

from nasbench import search
from nasbench.blocks import create_block, list_blocks, register_block
from nasbench.cost import count_macs, count_params
from nasbench.deploy import (
    check_operators,
    export_onnx,
    fold_batchnorm,
    list_allowlists,
    load_allowlist,
    register_fold_rule,
)
from nasbench.errors import (
    ArchitectureError,
    BlockError,
    ExportError,
    ModelError,
    NasbenchError,
    ShapeError,
    SpaceError,
)
from nasbench.latency import LatencyMeasurement, LatencyTable, Protocol, measure_latency
from nasbench.search import SearchResult
from nasbench.space import (
    Architecture,
    Candidate,
    Position,
    SearchSpace,
    list_spaces,
    load_space,
    register_backbone,
)
from nasbench.supernet import Supernet
from nasbench.train import DataError, TrainingError, builtin_data, evaluate, finetune
from nasbench.zoo import create_model, list_models, register_model

__version__ = "0.1.0"

__all__ = [
    "Architecture",
    "ArchitectureError",
    "BlockError",
    "Candidate",
    "ExportError",
    "ModelError",
    "NasbenchError",
    "Position",
    "SearchResult",
    "SearchSpace",
    "ShapeError",
    "SpaceError",
    "Supernet",
    "LatencyMeasurement",
    "LatencyTable",
    "Protocol",
    "check_operators",
    "DataError",
    "TrainingError",
    "builtin_data",
    "evaluate",
    "finetune",
    "search",
    "count_macs",
    "count_params",
    "create_block",
    "create_model",
    "export_onnx",
    "fold_batchnorm",
    "list_allowlists",
    "load_allowlist",
    "measure_latency",
    "register_fold_rule",
    "list_blocks",
    "list_models",
    "list_spaces",
    "load_space",
    "register_backbone",
    "register_block",
    "register_model",
]
