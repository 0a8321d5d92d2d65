"""Data-parallel training: two gloo processes equal one process on the concatenated batches.

The processes are started with ``torch.multiprocessing`` (the environment ``torchrun`` would set:
RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) and join the group through
:func:`ppl_models.distributed.setup`, so the code under test is the one ``torchrun`` runs.
"""

import os
import socket

import pytest
import torch

from ppl_models import distributed
from ppl_models.train import torch_step, train

N, D, BATCH, EPOCHS = 96, 5, 16, 2          # 6 global batches per epoch, 8 rows per process


def _problem():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(N, D, generator=g, dtype=torch.float64)
    y = torch.sin(x.sum(1, keepdim=True))
    return x, y


def _net(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(D, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()


def _fit(use_ddp: bool, init_seed: int) -> tuple[dict, list[float]]:
    """A few Adam steps through the shared loop; returns the weights and the logged losses."""
    x, y = _problem()
    net = _net(init_seed)
    model = distributed.wrap(net) if use_ddp else net
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    step = torch_step(lambda xb, yb: (model(xb) - yb).pow(2).mean(), opt, clip_grad_norm=1.0)
    hist = train(step, (x, y), EPOCHS, BATCH, seed=3, progress=False)
    return {k: v.detach().clone() for k, v in net.state_dict().items()}, hist.step_loss


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port), PPL_DEVICE="cpu")
    torch.set_num_threads(1)
    info = distributed.setup()
    try:
        # rank 1 starts from other weights: torch_step / DDP must broadcast rank 0's
        plain, plain_loss = _fit(False, init_seed=rank)
        ddp, ddp_loss = _fit(True, init_seed=rank)
        desync = None
        try:                     # a "trainer" that forgets to average: must be caught
            distributed.check_in_sync({"w": torch.full((3,), float(rank), dtype=torch.float64)})
        except RuntimeError as err:
            desync = str(err)
        shard = distributed.shard_indices(torch.arange(10))
        obj = distributed.broadcast_object({"from": rank})
        bn = torch.nn.BatchNorm1d(3)
        bn.running_mean.fill_(float(rank + 1))
        distributed.broadcast_buffers(bn)
        role = (info.rank, info.world_size, info.backend, distributed.is_main())
        torch.save({"plain": plain, "plain_loss": plain_loss, "ddp": ddp, "ddp_loss": ddp_loss,
                    "desync": desync, "shard": shard, "info": role,
                    "bn_mean": bn.running_mean.clone(), "obj": obj}, os.path.join(out, f"rank{rank}.pt"))
    finally:
        distributed.teardown()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def two_process_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    torch.multiprocessing.spawn(_worker, args=(2, _free_port(), str(out)), nprocs=2, join=True)
    return [torch.load(out / f"rank{r}.pt", weights_only=False) for r in range(2)]


@pytest.mark.parametrize("path", ["plain", "ddp"])
def test_two_gloo_processes_equal_one_process_on_the_concatenated_batch(two_process_results, path):
    ref, ref_loss = _fit(False, init_seed=0)      # one process, batches of 16 = the two shards of 8
    for res in two_process_results:
        for k, v in ref.items():
            err = (res[path][k] - v).abs().max()
            assert torch.allclose(res[path][k], v, rtol=0, atol=1e-12), (path, k, err)
        assert res[f"{path}_loss"] == pytest.approx(ref_loss, rel=1e-12, abs=1e-12)
    assert len(ref_loss) == EPOCHS * N // BATCH


def test_ranks_roles_shards_and_desync_check(two_process_results):
    r0, r1 = two_process_results
    assert r0["info"] == (0, 2, "gloo", True) and r1["info"] == (1, 2, "gloo", False)
    assert r0["shard"].tolist() == [0, 2, 4, 6, 8] and r1["shard"].tolist() == [1, 3, 5, 7, 9]
    assert "differs between processes" in r0["desync"] and "differs between processes" in r1["desync"]
    assert r0["bn_mean"].tolist() == r1["bn_mean"].tolist() == [1.0, 1.0, 1.0]      # rank 0's buffers
    assert r0["obj"] == r1["obj"] == {"from": 0}


def test_single_process_helpers_are_no_ops(monkeypatch):
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    info = distributed.setup()
    assert (info.rank, info.world_size) == (0, 1) and not distributed.active()
    assert distributed.rank() == 0 and distributed.world_size() == 1 and distributed.is_main()
    assert distributed.rank_seed(7) == 7 and distributed.all_mean(2.5) == 2.5
    net = torch.nn.Linear(2, 1)
    assert distributed.wrap(net) is net
    order = torch.arange(5)
    assert distributed.shard_indices(order) is order
    distributed.sync_gradients(net.parameters())
    distributed.broadcast_parameters(net.parameters())
    distributed.check_in_sync(net.state_dict())
    distributed.broadcast_buffers(net)
    assert distributed.broadcast_object([1]) == [1]
    distributed.barrier()
    distributed.teardown()


def test_bad_inputs_are_named(monkeypatch):
    with pytest.raises(ValueError, match="module"):
        distributed.wrap("not a module")
    with pytest.raises(ValueError, match="module"):
        distributed.broadcast_buffers(torch.zeros(2))
    with pytest.raises(ValueError, match="seed"):
        distributed.rank_seed(1.5)
    with pytest.raises(ValueError, match="order"):
        distributed.shard_indices(torch.zeros(2, 2))
    with pytest.raises(ValueError, match="backend"):
        distributed.setup(backend="mpi")
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(ValueError, match="WORLD_SIZE"):
        distributed.setup()
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(ValueError, match="RANK"):
        distributed.setup()
    if not torch.cuda.is_available():
        monkeypatch.setenv("RANK", "0")
        monkeypatch.setenv("WORLD_SIZE", "1")
        with pytest.raises(ValueError, match="nccl"):
            distributed.setup(backend="nccl")
