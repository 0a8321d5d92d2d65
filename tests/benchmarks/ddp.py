"""Benchmark: data-parallel training throughput, 1 process vs N processes (torch.distributed, gloo).

The model is chapter 07's class-conditional MNIST U-Net with its full-size config (the recipe
``ch07_unet_mnist``) trained by ``ppl_models.diffusion.train_denoiser`` exactly as the command line
trains it: the same global batch (128 images per step; each of N processes takes 128 / N), Adam,
gradient clipping and EMA, DistributedDataParallel with gloo on a CPU (NCCL on GPUs). A second,
small model (chapter 07's 2-D noise MLP, batch 1024) shows the other end: little compute per step,
so the all-reduce costs relatively more.

Peers, side by side in one run on the same cores: one process with one thread (the baseline),
one process with N intra-op threads (the other way to use N cores), and N processes with one
thread each (DDP). Each configuration trains for ``--steps`` steps after a warm-up and is timed
between barriers on rank 0; samples/s = steps * global batch / seconds. The three run in turn,
``--rounds`` times, and the medians are compared, so slow drifts of the machine's load hit all.

    PPL_THREADS=1 python tests/benchmarks/ddp.py                    # 2 processes, 3 rounds
    PPL_THREADS=1 python tests/benchmarks/ddp.py --procs 4 --steps 40

On a shared CPU the absolute numbers move with the load; quote the ratios.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import sys
import tempfile
import time

import torch


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _setup_model(model: str, steps: int, batch: int):
    """(train(n_steps) closure, global batch) for one model; data sized to ``steps`` global batches."""
    from ppl_models import diffusion as dm
    from ppl_models import distributed
    from ppl_models.classifier import to_signed
    from ppl_models.data import load_mnist5k
    from ppl_models.exact2d import eight_gaussians
    from ppl_models.nets import TimeMLP, UNet, UNetConfig

    sde = dm.VPSDE("linear")
    if model == "unet":
        mnist = load_mnist5k()
        x_all = to_signed(mnist.x_train).view(-1, 1, 28, 28)
        y_all = mnist.y_train
        ucfg = UNetConfig(channels=(8, 16, 32), time_dim=32, n_classes=10, groups=4)
        net = UNet(ucfg)

        def run(n_steps):
            n = n_steps * batch
            reps = -(-n // len(x_all))
            x, y = x_all.repeat(reps, 1, 1, 1)[:n], y_all.repeat(reps)[:n]
            cfg = dm.DenoiserConfig(n_epochs=1, batch_size=batch)
            dm.train_denoiser(net, x, sde, cfg, y=y, null_index=ucfg.n_classes, progress=False)
    else:
        x_all = eight_gaussians(noise=0.1).sample(64 * batch, torch.Generator().manual_seed(1)).float()
        net = TimeMLP(2, (128, 128, 128, 128), time_dim=32)

        def run(n_steps):
            cfg = dm.DenoiserConfig(n_epochs=1, batch_size=batch, lr=2e-3, warmup=100, ema_decay=0.9995,
                                    t_min=1e-4, log_t_fraction=0.5)
            dm.train_denoiser(net, x_all[: n_steps * batch], sde, cfg, progress=False)

    del distributed
    return run


def _worker(rank: int, world: int, port: int, threads: int, model: str, steps: int, batch: int, out: str):
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port), PPL_DEVICE=os.environ.get("PPL_DEVICE", "cpu"))
    torch.set_num_threads(threads)
    from ppl_models import distributed

    distributed.setup()
    try:
        run = _setup_model(model, steps, batch)
        run(2)                                  # warm-up: allocations, DDP buckets
        distributed.barrier()
        t0 = time.perf_counter()
        run(steps)
        distributed.barrier()
        seconds = time.perf_counter() - t0
        if distributed.is_main():
            with open(out, "w") as f:
                f.write(f"{seconds}\n")
    finally:
        distributed.teardown()


def measure(model: str, procs: int, threads: int, steps: int, batch: int) -> float:
    """Samples per second of ``procs`` processes x ``threads`` threads on ``model``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "seconds")
        if procs == 1:
            os.environ.pop("WORLD_SIZE", None)
            torch.set_num_threads(threads)
            run = _setup_model(model, steps, batch)
            run(2)
            t0 = time.perf_counter()
            run(steps)
            seconds = time.perf_counter() - t0
        else:
            spawn_args = (procs, _free_port(), threads, model, steps, batch, out)
            torch.multiprocessing.spawn(_worker, args=spawn_args, nprocs=procs, join=True)
            seconds = float(open(out).read())
    return steps * batch / seconds


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--procs", type=int, default=2, help="processes for the data-parallel run (default 2)")
    p.add_argument("--steps", type=int, default=24, help="timed U-Net steps per configuration (default 24)")
    p.add_argument("--mlp-steps", type=int, default=60, help="timed MLP steps per configuration (default 60)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds, medians reported (default 3)")
    args = p.parse_args(argv)
    if args.procs < 2 or min(args.steps, args.mlp_steps, args.rounds) < 1:
        p.error("--procs must be >= 2 and --steps, --mlp-steps, --rounds >= 1")
    from ppl_models import config

    config.set_threads()
    print("data-parallel training throughput (torch.distributed, gloo on the CPU)")
    print(f"device: {config.describe()} | {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} logical CPUs visible, load average {os.getloadavg()[0]:.2f}")
    env = {v: os.environ.get(v, "unset") for v in ("OMP_NUM_THREADS", "PPL_THREADS")}
    print(f"python {platform.python_version()}, torch {torch.__version__}, gloo available "
          f"{torch.distributed.is_gloo_available()}, " + ", ".join(f"{k}={v}" for k, v in env.items()))
    shown = sys.argv[1:] if argv is None else argv
    print("command: PPL_THREADS=1 python tests/benchmarks/ddp.py " + " ".join(shown))
    n = args.procs
    configs = (("1 process  x 1 thread ", 1, 1), (f"1 process  x {n} threads", 1, n),
               (f"{n} processes x 1 thread (DDP)", n, 1))
    for model, steps, batch in (("unet", args.steps, 128), ("mlp", args.mlp_steps, 1024)):
        label = {"unet": "chapter 07 U-Net (full-size config, 28x28, batch 128)",
                 "mlp": "chapter 07 2-D noise MLP (4 x 128, batch 1024)"}[model]
        rates = {name: [] for name, _, _ in configs}
        for _ in range(args.rounds):       # interleaved, so all three see the same load drift
            for name, procs, threads in configs:
                rates[name].append(measure(model, procs, threads, steps, batch))
        med = {name: statistics.median(v) for name, v in rates.items()}
        base = med[configs[0][0]]
        print(f"\n{label}, {steps} timed steps, median of {args.rounds} interleaved rounds:")
        for name, _, _ in configs:
            runs = ", ".join(f"{v:.0f}" for v in rates[name])
            print(f"  {name}: {med[name]:9.1f} samples/s  ({med[name] / base:.2f}x)   rounds: {runs}")
        ddp, threaded = med[configs[2][0]], med[configs[1][0]]
        print(f"  speed-up of {n} DDP processes over 1 process: {ddp / base:.2f}x "
              f"({ddp / threaded:.2f}x the {n}-thread process)")
    print(f"\nload average after the runs: {os.getloadavg()[0]:.2f} (other work on the machine lowers every "
          "number, and most the runs that use more cores)")


if __name__ == "__main__":
    main()
