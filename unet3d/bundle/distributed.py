"""torch.distributed for bundles and ``unet3d segment`` under ``torchrun``: set-up, DDP, rank-0 handlers.

Everything here is PyTorch's own machinery (``init_process_group``, ``DistributedDataParallel``);
these helpers only choose the backend and device from the environment ``torchrun`` sets
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``) so that one overlay, ``configs/multi_gpu_train.yaml``,
serves every bundle on GPUs (NCCL) and on CPUs (Gloo).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

# handlers that write files or print: kept on rank 0 only (the others compute, not report)
RANK0_ONLY = (
    "StatsHandler",
    "TensorBoardStatsHandler",
    "ProgressBar",
    "CheckpointSaver",
    "EvaluationReport",
    "PublishBestModel",
)


def launched_distributed() -> bool:
    """True when started by ``torchrun`` (or another launcher) with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def local_device() -> torch.device:
    """``cuda:<LOCAL_RANK>`` when GPUs are present, else the CPU."""
    if torch.cuda.is_available():
        return torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}")
    return torch.device("cpu")


def init_distributed(timeout_s: float = 1800) -> torch.device:
    """Join the process group ``torchrun`` describes (NCCL on GPUs, Gloo on CPUs); idempotent.

    Ranks other than 0 log warnings and errors only, so the job's log reads as one process's.

    Args:
        timeout_s: how long a collective may wait for the other ranks before failing (seconds).

    Returns:
        This process's device (see :func:`local_device`).
    """
    device = local_device()
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, timeout=timedelta(seconds=timeout_s))
        if dist.get_rank() != 0:
            logging.disable(logging.INFO)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return device


def finalize_distributed() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_initialized():
        dist.destroy_process_group()


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def ddp(network: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """Wrap ``network`` (already on ``device``) in ``DistributedDataParallel`` when a group is up."""
    if not dist.is_initialized():
        return network
    device_ids = [device.index] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(network, device_ids=device_ids)


def handlers_for_rank(handlers: Sequence[Any] | None) -> list[Any]:
    """All handlers on rank 0; on the other ranks, only those that compute (LR schedule, validation,
    resuming), not those that print or write files (:data:`RANK0_ONLY`)."""
    handlers = list(handlers or [])
    if rank() == 0:
        return handlers
    return [h for h in handlers if type(h).__name__ not in RANK0_ONLY]
