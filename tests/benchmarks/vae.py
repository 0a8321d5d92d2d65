"""Benchmark: our VAE vs a plain Pyro VAE written as in Pyro's VAE tutorial, side by side.

Both get the same architecture sizes (one hidden layer of 400 softplus units, 50 latents), Adam
1e-3, batch 256, the same statically binarised MNIST-5k split (4,000 train / 1,000 test) and
the same number of epochs. Epochs are interleaved (one of ours, one of the reference, ...) so
both see the same machine load. Reported: test NLL by IWAE (k=5,000; --quick: 500) in nats per
image, median epoch time, and the ratios.

    python tests/benchmarks/vae.py            # 50 epochs, k = 5000 on all 1,000 test images
    python tests/benchmarks/vae.py --quick    # 5 epochs, k = 500 on 500 test images
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import pyro
import pyro.distributions as dist
import torch
from pyro.infer import SVI, Trace_ELBO
from pyro.optim import Adam
from torch import nn

from ppl_models import config, metrics
from ppl_models.data import load_mnist5k
from ppl_models.train import iterate_minibatches
from ppl_models.vae import VAE, VAEConfig, train_vae


# ---------------------------------------------------------------- reference (Pyro tutorial style)
class RefEncoder(nn.Module):
    def __init__(self, z_dim, hidden_dim):
        super().__init__()
        self.fc1 = nn.Linear(784, hidden_dim)
        self.fc21 = nn.Linear(hidden_dim, z_dim)
        self.fc22 = nn.Linear(hidden_dim, z_dim)
        self.softplus = nn.Softplus()

    def forward(self, x):
        hidden = self.softplus(self.fc1(x.reshape(-1, 784)))
        return self.fc21(hidden), torch.exp(self.fc22(hidden))


class RefDecoder(nn.Module):
    def __init__(self, z_dim, hidden_dim):
        super().__init__()
        self.fc1 = nn.Linear(z_dim, hidden_dim)
        self.fc21 = nn.Linear(hidden_dim, 784)
        self.softplus = nn.Softplus()
        self.sigmoid = nn.Sigmoid()

    def forward(self, z):
        return self.sigmoid(self.fc21(self.softplus(self.fc1(z))))


class RefVAE(nn.Module):
    def __init__(self, z_dim=50, hidden_dim=400):
        super().__init__()
        self.encoder = RefEncoder(z_dim, hidden_dim)
        self.decoder = RefDecoder(z_dim, hidden_dim)
        self.z_dim = z_dim

    def model(self, x):
        pyro.module("decoder", self.decoder)
        with pyro.plate("data", x.shape[0]):
            z_loc = x.new_zeros(torch.Size((x.shape[0], self.z_dim)))
            z_scale = x.new_ones(torch.Size((x.shape[0], self.z_dim)))
            z = pyro.sample("latent", dist.Normal(z_loc, z_scale).to_event(1))
            loc_img = self.decoder(z)
            pyro.sample("obs", dist.Bernoulli(loc_img, validate_args=False).to_event(1),
                        obs=x.reshape(-1, 784))

    def guide(self, x):
        pyro.module("encoder", self.encoder)
        with pyro.plate("data", x.shape[0]):
            z_loc, z_scale = self.encoder(x)
            pyro.sample("latent", dist.Normal(z_loc, z_scale).to_event(1))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="5 epochs, k=500, 500 test images")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--k", type=int, default=None)
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (shared CPUs: 1)")
    args = p.parse_args(argv)
    epochs = args.epochs or (5 if args.quick else 50)
    k = args.k or (500 if args.quick else 5000)
    n_test = 500 if args.quick else 1000
    torch.set_num_threads(args.threads)
    dev = config.get_device()
    config.seed_everything(0)
    data = load_mnist5k(binarized=True, device=dev).subset(n_test=n_test)
    print(f"# VAE benchmark | {config.describe(dev)} | threads {torch.get_num_threads()} | "
          f"python {sys.version.split()[0]}")
    print(f"# data: {data.name}, train {tuple(data.x_train.shape)}, test {tuple(data.x_test.shape)}; "
          f"epochs {epochs}, batch 256, Adam 1e-3, IWAE k={k}")
    print("# command: python tests/benchmarks/vae.py" + (" --quick" if args.quick else ""))

    cfg = VAEConfig(hidden=(400,), z_dim=50, lr=1e-3, batch_size=256, n_epochs=epochs,
                    warmup_epochs=max(1, epochs // 10), elbo="meanfield", seed=0)
    ours = VAE(cfg).to(dev)
    ref = RefVAE().to(dev)
    svi = SVI(ref.model, ref.guide, Adam({"lr": 1e-3}), loss=Trace_ELBO())
    gen = torch.Generator().manual_seed(1)
    times = {"ours": [], "ref": []}
    mark = [time.perf_counter()]

    def ref_epoch(_step):  # called by our loop after each of our epochs: interleaves the two
        times["ours"].append(time.perf_counter() - mark[0])
        t0 = time.perf_counter()
        for (xb,) in iterate_minibatches(data.x_train, 256, gen):
            svi.step(xb)
        times["ref"].append(time.perf_counter() - t0)
        mark[0] = time.perf_counter()

    steps_per_epoch = -(-data.x_train.shape[0] // 256)
    train_vae(ours, data.x_train, cfg, progress=False, eval_fn=ref_epoch, eval_every=steps_per_epoch)
    ours.eval()
    nll = {}
    t_eval = {}
    for name, fn in (("ours", ours.log_weights), ("ref", metrics.pyro_log_weights(ref.model, ref.guide))):
        t0 = time.perf_counter()
        torch.manual_seed(0)
        nll[name] = metrics.nats_per_image(metrics.iwae_bound(fn, data.x_test, k, batch_size=25,
                                                              particle_chunk=1000))
        t_eval[name] = time.perf_counter() - t0
    ep = {n: statistics.median(t) for n, t in times.items()}  # robust to load spikes
    print(f"{'model':<28}{'test NLL (nats)':>16}{'s/epoch':>10}{'IWAE eval s':>13}")
    print(f"{'ours (ppl_models.vae)':<28}{nll['ours']:>16.2f}{ep['ours']:>10.3f}{t_eval['ours']:>13.1f}")
    print(f"{'reference (Pyro tutorial)':<28}{nll['ref']:>16.2f}{ep['ref']:>10.3f}{t_eval['ref']:>13.1f}")
    print(f"NLL difference ours - ref: {nll['ours'] - nll['ref']:+.2f} nats (negative = ours better)")
    print(f"epoch-time ratio ours / ref: {ep['ours'] / ep['ref']:.2f} (below 1 = ours faster)")


if __name__ == "__main__":
    main()
