"""Data-parallel training over processes (``torchrun``): DistributedDataParallel and its helpers.

Under ``torchrun --nproc_per_node=N`` every process trains the same model on a different shard
of each mini-batch, and the gradients are averaged over processes before every optimizer step,
so N processes with ``B / N`` rows each take the step one process takes on the ``B`` rows
(up to the order of floating-point sums). The shared loop uses these helpers by itself:

* :func:`ppl_models.train.train` splits every global batch of ``batch_size`` rows with a
  :class:`~torch.utils.data.DistributedSampler` and averages the logged loss over processes;
* a trainer that forwards through ``wrap(net)`` gets :class:`~torch.nn.parallel.DistributedDataParallel`
  (gradients all-reduced during the backward pass); :func:`ppl_models.train.torch_step`
  all-reduces every other parameter's gradient itself (:func:`sync_gradients`: the same average,
  for trainers whose loss calls the network several times per step, e.g. EBM sampling);
* only the process with rank 0 writes checkpoints and shows progress bars (:func:`is_main`).

Nothing here starts processes: ``torchrun`` does, and :func:`setup` joins the group it describes
in the environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``).
gloo on a CPU, NCCL when the device is CUDA. Without those variables everything here is a no-op,
so the same code runs in one process.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["DistInfo", "setup", "teardown", "active", "rank", "world_size", "is_main", "rank_seed", "wrap",
           "sync_gradients", "broadcast_parameters", "broadcast_buffers", "shard_indices", "all_mean",
           "barrier", "check_in_sync", "broadcast_object"]

_DDP_FLAG = "_ppl_ddp_managed"   # set on parameters whose gradients a DDP wrapper all-reduces


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits: ``rank`` of ``world_size``, ``local_rank`` on its node, its device."""

    rank: int
    world_size: int
    local_rank: int
    backend: str
    device: torch.device


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as err:
        raise ValueError(f"environment variable {name}={raw!r} must be an integer") from err
    if value < 0:
        raise ValueError(f"environment variable {name}={raw!r} must be >= 0")
    return value


def setup(backend: str | None = None) -> DistInfo:
    """Join the process group ``torchrun`` describes in the environment (no-op without one).

    Args:
        backend: ``"gloo"``, ``"nccl"`` or None: NCCL when CUDA is available (and ``PPL_DEVICE``
            does not ask for the CPU), gloo otherwise. On CUDA each process takes the GPU
            ``LOCAL_RANK``, so :func:`ppl_models.config.get_device`'s ``cuda`` is that GPU.

    Returns:
        a :class:`DistInfo` (``world_size == 1`` and no process group when not under torchrun).
    """
    world = _env_int("WORLD_SIZE", 1)
    rank_, local = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    if world < 1 or rank_ >= world:
        raise ValueError(f"RANK={rank_} must be below WORLD_SIZE={world}")
    from .config import get_device

    cuda = torch.cuda.is_available() and os.environ.get("PPL_DEVICE", "").strip().lower() != "cpu"
    if backend is None:
        backend = "nccl" if cuda else "gloo"
    if backend not in ("gloo", "nccl"):
        raise ValueError(f"backend must be 'gloo', 'nccl' or None, got {backend!r}")
    if backend == "nccl" and not cuda:
        raise ValueError("backend='nccl' needs CUDA; use 'gloo' on a CPU")
    if cuda:
        torch.cuda.set_device(local % torch.cuda.device_count())
    device = get_device()
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend=backend, rank=rank_, world_size=world)
    return DistInfo(rank_, world, local, backend, device)


def teardown() -> None:
    """Leave the process group (if one was joined)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def active() -> bool:
    """True when a process group with more than one process is running."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 outside a process group)."""
    return dist.get_rank() if active() else 0


def world_size() -> int:
    """The number of processes (1 outside a process group)."""
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    """True on the process that writes checkpoints and logs (rank 0, or the only process)."""
    return rank() == 0


def rank_seed(seed: int) -> int:
    """``seed`` on rank 0 (so one process is unchanged), a far-away distinct seed on the others.

    Use it for the generators that draw per-example noise, so processes do not draw the same
    noise for their different shards.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an int, got {seed!r}")
    return seed + 1_000_003 * rank()


def wrap(module: torch.nn.Module) -> torch.nn.Module:
    """``DistributedDataParallel(module)`` inside a process group, ``module`` itself otherwise.

    Forward through the returned module in the loss; keep reading weights (``state_dict``, EMA)
    from ``module``. Its parameters are marked so that :func:`ppl_models.train.torch_step` does
    not average their gradients a second time.
    """
    if not isinstance(module, torch.nn.Module):
        raise ValueError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    if not active():
        return module
    from torch.nn.parallel import DistributedDataParallel

    params = [p for p in module.parameters() if p.requires_grad]
    on_cuda = bool(params) and params[0].device.type == "cuda"
    ddp = DistributedDataParallel(module, device_ids=[params[0].device.index] if on_cuda else None)
    for p in params:
        setattr(p, _DDP_FLAG, True)
    return ddp


def _unmanaged(params: Iterable[torch.Tensor]) -> list[torch.Tensor]:
    return [p for p in params if not getattr(p, _DDP_FLAG, False)]


def broadcast_parameters(params: Iterable[torch.Tensor], src: int = 0) -> None:
    """Copy rank ``src``'s values of ``params`` to every process (what DDP does when it starts)."""
    params = _unmanaged(params)
    if not active() or not params:
        return
    with torch.no_grad():
        flat = torch.cat([p.detach().reshape(-1) for p in params])
        dist.broadcast(flat, src)
        _unflatten_into(flat, params, grads=False)


def broadcast_buffers(module: torch.nn.Module, src: int = 0) -> None:
    """Copy rank ``src``'s buffers of ``module`` (e.g. batch-norm running statistics) to every process.

    DDP broadcasts them before each forward pass; call this once after training so the final
    state is the same everywhere.
    """
    if not isinstance(module, torch.nn.Module):
        raise ValueError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    if not active():
        return
    for buf in module.buffers():
        dist.broadcast(buf.data, src)


def sync_gradients(params: Iterable[torch.Tensor]) -> None:
    r"""Average the gradients of ``params`` over processes, in one all-reduce (no-op in one process).

    .. math:: g \leftarrow \frac{1}{N}\sum_{r=1}^{N} g_r

    Parameters already managed by a :func:`wrap` (DDP) module and parameters without a gradient
    are skipped; every process must hold gradients for the same parameters.
    """
    if not active():
        return
    params = [p for p in _unmanaged(params) if p.grad is not None]
    if not params:
        return
    flat = torch.cat([p.grad.reshape(-1) for p in params])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= dist.get_world_size()
    _unflatten_into(flat, params, grads=True)


def _unflatten_into(flat: torch.Tensor, params: list[torch.Tensor], grads: bool) -> None:
    start = 0
    for p in params:
        n = p.numel()
        chunk = flat[start : start + n].view_as(p)
        (p.grad if grads else p.data).copy_(chunk)
        start += n


def shard_indices(order: torch.Tensor) -> torch.Tensor:
    """This process's share of ``order`` (e.g. one epoch's permutation), by a DistributedSampler.

    The sampler does not shuffle (``order`` already is the shared permutation, drawn from the
    same seed on every process) and pads by wrapping around, so each process gets
    ``ceil(len(order) / N)`` entries: process ``r`` takes ``order[r], order[r + N], ...``. The
    ``k``-th block of ``b`` entries on every process together are then entries
    ``k * N * b ... (k + 1) * N * b - 1`` of ``order``: one process's ``k``-th batch of ``N * b``.
    """
    if not torch.is_tensor(order) or order.ndim != 1:
        raise ValueError("order must be a 1-D tensor of indices")
    if not active():
        return order
    from torch.utils.data import DistributedSampler

    sampler = DistributedSampler(range(len(order)), num_replicas=dist.get_world_size(), rank=dist.get_rank(),
                                 shuffle=False, drop_last=False)
    pos = torch.tensor(list(iter(sampler)), dtype=torch.long, device=order.device)
    return order[pos]


def _comm_device() -> torch.device:
    """Where the backend reduces: this process's GPU for NCCL, the CPU for gloo."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_mean(value: float) -> float:
    """The mean of a number over processes (for logging a loss); the number itself in one process."""
    if not active():
        return float(value)
    t = torch.tensor([float(value)], dtype=torch.float64, device=_comm_device())
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return float(t.item()) / dist.get_world_size()


def broadcast_object(obj, src: int = 0):
    """Rank ``src``'s ``obj`` (any picklable value) on every process; ``obj`` itself in one process."""
    if not active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src)
    return box[0]


def barrier() -> None:
    """Wait for every process (no-op in one process)."""
    if active():
        dist.barrier()


def check_in_sync(state: dict[str, torch.Tensor], name: str = "state") -> None:
    """Raise if the floating-point tensors of ``state`` differ between processes.

    Compares the float64 sum and sum of squares of every tensor across processes (max equals
    min); a trainer that forgot to average its gradients fails here instead of saving one
    process's weights as if they were the result of all.
    """
    if not active():
        return
    vals = [v.detach().double() for v in state.values() if torch.is_tensor(v) and torch.is_floating_point(v)]
    if not vals:
        return
    stats = torch.stack([torch.stack([v.sum(), v.pow(2).sum()]) for v in vals]).reshape(-1)
    stats = stats.to(_comm_device())
    hi, lo = stats.clone(), stats.clone()
    dist.all_reduce(hi, op=dist.ReduceOp.MAX)
    dist.all_reduce(lo, op=dist.ReduceOp.MIN)
    if not torch.allclose(hi, lo, rtol=1e-9, atol=1e-12):
        raise RuntimeError(f"{name} differs between processes after training: this trainer does not average "
                           "its gradients over processes (use ppl_models.train.torch_step or "
                           "distributed.sync_gradients)")
