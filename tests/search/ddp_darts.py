"""Run by tests/search/test_ddp.py under ``torchrun --nproc_per_node=2``: a short DARTS search per mode;
each rank saves its final α so the test can check that every rank holds the same values."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.distributed as dist

from nasbench import SearchSpace
from nasbench.latency import LatencyTable
from nasbench.search import darts
from nasbench.train import CropDataset, builtin_images

SPACE = {
    "name": "toy",
    "backbone": {"type": "nafnet", "width": 4, "encoder_blocks": [1], "middle_blocks": 1, "decoder_blocks": [1]},
    "candidates": ["naf", "conv_bn_relu", "identity"],
}


def main() -> None:
    out, table_path = Path(sys.argv[1]), sys.argv[2]
    space = SearchSpace.from_dict(SPACE)
    table = LatencyTable.load(table_path)
    data = CropDataset(builtin_images("train"), crop=16, degradation="noise", length=64, seed=0)
    for mode in ("all", "sampled"):
        result = darts(
            space,
            data,
            table,
            steps=8,
            warmup_steps=2,
            batch_size=2,
            alpha_lr=0.05,
            mode=mode,
            output=out / mode,
            checkpoint_every=4,
            progress=False,
        )
        rank = dist.get_rank()
        alphas = {k: v for k, v in result.history[-1].items() if k.startswith("p/")}
        torch.save(
            {"alphas": alphas, "architecture": str(result.architecture), "world": dist.get_world_size()},
            out / f"{mode}_rank{rank}.pt",
        )
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
