"""Benchmark: our DDPM (package U-Net + VP SDE) vs diffusers' UNet2DModel + DDPMScheduler, side by side.

Both models predict the noise with the L_simple loss on the same MNIST-5k training images (4,000,
pixels in [-1, 1]), with the same batch size, Adam learning rate, gradient clipping and EMA of the
weights (ppl_models.diffusion.EMA for both), and similar parameter counts (printed). Training is
interleaved in chunks of --chunk seconds (one chunk of ours, one of the peer, ...) until each has
used --budget seconds, so both see the same machine load and the same wall-clock budget.

Ours: t ~ U(1e-5, 1) on the linear VP SDE (beta 0.1 -> 20), the package's U-Net (y = None).
Peer: integer timesteps of diffusers' DDPMScheduler (linear betas 1e-4 -> 0.02, T = 1000),
      UNet2DModel with DownBlock2D/UpBlock2D blocks (the diffusers training example's layout,
      without attention at this size).
Sampling: deterministic DDIM with the same number of steps for both (ours: dm.ddim_sample,
"trailing" grid; peer: DDIMScheduler built from the DDPMScheduler's config, "trailing" spacing),
the same starting noise, --n-samples samples each, scored by the Fréchet distance in the shared
MNIST classifier's features against the 1,000 test images (with the train-vs-test floor).

    PPL_THREADS=1 python tests/benchmarks/diffusion.py                       # 10 min of training each
    PPL_THREADS=1 python tests/benchmarks/diffusion.py --budget 180 --steps 20   # a short run
"""

from __future__ import annotations

import argparse
import platform
import re
import sys
import time

import torch

from ppl_models import config
from ppl_models import diffusion as dm
from ppl_models.classifier import load_feature_classifier, to_signed, to_unit
from ppl_models.data import load_mnist5k
from ppl_models.metrics import compute_features, sample_quality
from ppl_models.nets import UNet, UNetConfig, count_parameters


def make_peer(channels):
    from diffusers import UNet2DModel

    torch.manual_seed(0)
    return UNet2DModel(sample_size=28, in_channels=1, out_channels=1, block_out_channels=channels,
                       layers_per_block=1, down_block_types=("DownBlock2D",) * len(channels),
                       up_block_types=("UpBlock2D",) * len(channels), norm_num_groups=4)


class Runner:
    """One model's training state: a step closure, its optimizer, EMA, counters."""

    def __init__(self, name, net, loss_fn, lr, ema_decay, seed):
        self.name, self.net, self.loss_fn = name, net, loss_fn
        self.opt = torch.optim.Adam(net.parameters(), lr=lr)
        self.ema = dm.EMA(net, ema_decay)
        self.gen = torch.Generator().manual_seed(seed)
        self.steps, self.seconds, self.last_loss = 0, 0.0, float("nan")

    def train_for(self, seconds, x, batch):
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            idx = torch.randint(0, len(x), (batch,), generator=self.gen)
            loss = self.loss_fn(self.net, x[idx], self.gen)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), 1.0)
            self.opt.step()
            self.ema.update(self.net)
            self.steps += 1
            self.last_loss = float(loss.detach())
        self.seconds += time.perf_counter() - start


def our_loss(sde):
    def loss(net, xb, gen):
        return dm.diffusion_loss(net, xb, sde, generator=gen).mean()
    return loss


def peer_loss(scheduler):
    def loss(net, xb, gen):
        t = torch.randint(0, scheduler.config.num_train_timesteps, (xb.shape[0],), generator=gen)
        noise = torch.randn(xb.shape, generator=gen)
        return (net(scheduler.add_noise(xb, noise, t), t).sample - noise).pow(2).mean()
    return loss


@torch.no_grad()
def sample_ours(net, sde, x_T, steps):
    return dm.ddim_sample(lambda x, t: net(x, t), sde, x_T, dm.ddim_times(1000, steps, "trailing")).samples


@torch.no_grad()
def sample_peer(net, ddpm_scheduler, x_T, steps):
    from diffusers import DDIMScheduler

    sched = DDIMScheduler.from_config(ddpm_scheduler.config, timestep_spacing="trailing", clip_sample=False)
    sched.set_timesteps(steps)
    x = x_T.clone()
    for t in sched.timesteps:
        eps = net(x, t.expand(x.shape[0])).sample
        x = sched.step(eps, t, x, eta=0.0).prev_sample
    return x


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=600.0, help="training seconds per model")
    ap.add_argument("--chunk", type=float, default=15.0, help="seconds per interleaved training chunk")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--ema", type=float, default=0.995)
    ap.add_argument("--steps", type=int, default=50, help="DDIM sampling steps (both)")
    ap.add_argument("--n-samples", type=int, default=1000)
    args = ap.parse_args(argv)

    import diffusers
    from diffusers import DDPMScheduler

    threads = config.set_threads()
    config.seed_everything(0)
    mnist = load_mnist5k()
    x = to_signed(mnist.x_train).view(-1, 1, 28, 28)
    sde = dm.VPSDE("linear")
    ours = UNet(UNetConfig(channels=(8, 16, 32), time_dim=32, groups=4))
    peer = make_peer((8, 16, 24))
    ddpm = DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear", beta_start=1e-4, beta_end=0.02,
                         clip_sample=False)
    print(f"command: PPL_THREADS={threads} python tests/benchmarks/diffusion.py " + " ".join(sys.argv[1:]))
    print(config.describe())
    blas = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    print(f"python {platform.python_version()}, torch {torch.__version__}, "
          f"diffusers {diffusers.__version__}, torch threads {torch.get_num_threads()}, "
          f"BLAS {blas.group(1) if blas else 'unknown'}")
    print(f"data: MNIST-5k, {len(x)} training images 28x28 in [-1, 1]; batch {args.batch}, Adam {args.lr}, "
          f"clip 1.0, EMA {args.ema}; {args.budget:.0f} s of training each in {args.chunk:.0f} s chunks")
    print(f"parameters: ours {count_parameters(ours):,}, diffusers UNet2DModel {count_parameters(peer):,}")
    runners = [Runner("ours", ours, our_loss(sde), args.lr, args.ema, 1),
               Runner("diffusers", peer, peer_loss(ddpm), args.lr, args.ema, 1)]
    while any(r.seconds < args.budget for r in runners):
        for r in runners:
            if r.seconds < args.budget:
                r.train_for(min(args.chunk, args.budget - r.seconds), x, args.batch)
    for r in runners:
        r.net.load_state_dict(r.ema.state_dict())
        r.net.eval()
        print(f"{r.name:>10s}: {r.steps} steps in {r.seconds:.0f} s = {r.steps / r.seconds:.3f} steps/s, "
              f"last loss {r.last_loss:.4f}")

    clf = load_feature_classifier()
    f_test = compute_features(clf.features, mnist.x_test)
    x_T = torch.randn(args.n_samples, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    fd = {}
    for r, fn in zip(runners, (lambda: sample_ours(ours, sde, x_T, args.steps),
                               lambda: sample_peer(peer, ddpm, x_T, args.steps)), strict=True):
        start = time.perf_counter()
        s = fn()
        secs = time.perf_counter() - start
        q = sample_quality(compute_features(clf.features, to_unit(s.clamp(-1, 1))), f_test)
        fd[r.name] = q.fd
        print(f"{r.name:>10s}: FD {q.fd:.2f}, precision {q.precision:.3f}, recall {q.recall:.3f} "
              f"({args.n_samples} samples, DDIM {args.steps} steps, sampling {secs:.0f} s)")
    idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(3))[:args.n_samples]
    floor = sample_quality(compute_features(clf.features, mnist.x_train[idx]), f_test)
    print(f"     floor: FD {floor.fd:.2f} ({args.n_samples} training images vs the test images)")
    rate = {r.name: r.steps / r.seconds for r in runners}
    print(f"ratios (ours / diffusers): steps/s {rate['ours'] / rate['diffusers']:.2f}, "
          f"FD {fd['ours'] / fd['diffusers']:.2f} (FD: lower is better)")


if __name__ == "__main__":
    main()
