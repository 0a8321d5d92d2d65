"""Benchmark: EM for Gaussian mixtures, ppl_models.mixtures vs scikit-learn, side by side.

    python tests/benchmarks/gmm_em.py            # 100 EM iterations, 100k x 32 -> 16 components
    python tests/benchmarks/gmm_em.py --quick    # 20k x 16 -> 8 components, 30 iterations

Both implementations start from the same initial parameters and run exactly ``--iters`` EM
iterations (``tol=0``), float64 on the CPU for scikit-learn; ours runs on the configured device
(``PPL_DEVICE`` or cuda-if-available) in ``--dtype``. Timings are the best of ``--repeats``
runs; on a shared CPU only the ratio means something. The final mean log-likelihoods are
printed so the speed is not bought with a different answer.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings

import numpy as np
import sklearn
import torch
from sklearn.mixture import GaussianMixture

from ppl_models import config
from ppl_models.mixtures import fit_gmm, init_gmm


def make_data(n: int, d: int, k: int, seed: int) -> np.ndarray:
    """A well-separated ``k``-component Gaussian mixture sample, ``(n, d)`` float64."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 4.0, (k, d))
    z = rng.integers(0, k, n)
    scales = rng.uniform(0.5, 1.5, (k, d))
    return centres[z] + scales[z] * rng.standard_normal((n, d))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_ours(X, init, iters, repeats, device):
    fit = None
    best = float("inf")
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        fit = fit_gmm(X, init.n_components, init.covariance_type, init=init, max_iter=iters, tol=0.0)
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return best, float(fit.history[-1])


def time_sklearn(X, init, iters, repeats):
    cov = init.covariances.double().cpu().numpy()
    prec = np.linalg.inv(cov) if init.covariance_type == "full" else 1.0 / cov
    gm = None
    best = float("inf")
    for _ in range(repeats):
        gm = GaussianMixture(init.n_components, covariance_type=init.covariance_type,
                             max_iter=iters, tol=0.0, reg_covar=1e-6,
                             weights_init=init.weights.double().cpu().numpy(),
                             means_init=init.means.double().cpu().numpy(), precisions_init=prec)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning: tol=0 on purpose
            gm.fit(X)
        best = min(best, time.perf_counter() - t0)
    return best, float(gm.score(X))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes (20k x 16, K=8, 30 iters)")
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--d", type=int, default=32)
    p.add_argument("--k", type=int, default=16)
    p.add_argument("--iters", type=int, default=100)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    p.add_argument("--types", default="diag,full")
    args = p.parse_args(argv)
    if args.quick:
        args.n, args.d, args.k, args.iters = 20_000, 16, 8, 30
    device = config.get_device()
    dtype = getattr(torch, args.dtype)
    print(f"device: {device} | torch {torch.__version__} | sklearn {sklearn.__version__} | "
          f"numpy {np.__version__} | python {platform.python_version()} | "
          f"torch threads {torch.get_num_threads()}")
    print(f"sizes: N={args.n} D={args.d} K={args.k}, {args.iters} EM iterations, ours in "
          f"{args.dtype}, sklearn float64 on CPU, best of {args.repeats}")
    print("command: python " + " ".join(["tests/benchmarks/gmm_em.py", *sys.argv[1:]]))
    Xnp = make_data(args.n, args.d, args.k, seed=0)
    X = torch.as_tensor(Xnp, dtype=dtype, device=device)
    print(f"{'type':>5} {'ours [s]':>9} {'sklearn [s]':>11} {'speed-up':>9} "
          f"{'ours loglik':>12} {'sk loglik':>12}")
    for ct in args.types.split(","):
        gen = torch.Generator(device=device).manual_seed(0)
        init = init_gmm(X, args.k, ct, generator=gen)
        t_ours, ll_ours = time_ours(X, init, args.iters, args.repeats, device)
        t_sk, ll_sk = time_sklearn(Xnp, init, args.iters, args.repeats)
        print(f"{ct:>5} {t_ours:9.2f} {t_sk:11.2f} {t_sk / t_ours:8.2f}x {ll_ours:12.5f} {ll_sk:12.5f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
