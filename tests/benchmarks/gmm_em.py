"""Benchmark: EM for Gaussian mixtures, ppl_models.mixtures vs scikit-learn, side by side.

    python tests/benchmarks/gmm_em.py                # 100k x 32 -> 16 components, 10 EM iterations,
                                                     # diag and full, 1 and 2 threads
    python tests/benchmarks/gmm_em.py --quick        # 20k x 16 -> 8 components

Both implementations start from the same initial parameters and run exactly ``--iters`` EM
iterations (``tol=0``), float64 on the CPU; ours runs on the configured device (``PPL_DEVICE`` or
cuda-if-available) in ``--dtype``. For every thread count torch and numpy's BLAS get the same
number of threads (``torch.set_num_threads`` and threadpoolctl). Ours and scikit-learn's fits
alternate in one process and the median of ``--repeats`` runs counts; on a shared CPU only the
ratio means something. The final mean log-likelihoods are printed and must agree to
``--rtol`` (relative), so the speed is not bought with a different answer.

OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE slow numpy on these machines (OpenBLAS reads both once,
when numpy loads it): this script removes both from its own environment before numpy is imported,
and prints what it removed and the BLAS libraries in use.
"""

from __future__ import annotations

import _fair  # first: removes the OpenBLAS overrides before numpy loads  # isort: skip

import argparse  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
import threadpoolctl  # noqa: E402
import torch  # noqa: E402
from sklearn.mixture import GaussianMixture  # noqa: E402

from ppl_models import config  # noqa: E402
from ppl_models.mixtures import fit_gmm, init_gmm  # noqa: E402


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


def fit_ours(X, init, iters):
    fit = fit_gmm(X, init.n_components, init.covariance_type, init=init, max_iter=iters, tol=0.0)
    return float(fit.history[-1])


def fit_sklearn(X, init, iters):
    cov = init.covariances.double().cpu().numpy()
    prec = np.linalg.inv(cov) if init.covariance_type == "full" else 1.0 / cov
    gm = GaussianMixture(init.n_components, covariance_type=init.covariance_type,
                         max_iter=iters, tol=0.0, reg_covar=1e-6,
                         weights_init=init.weights.double().cpu().numpy(),
                         means_init=init.means.double().cpu().numpy(), precisions_init=prec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: tol=0 on purpose
        gm.fit(X)
    return gm


def run_case(X, Xnp, init, args, device):
    """Alternate our fit and scikit-learn's; medians of the seconds and both final log-likelihoods."""
    ours, theirs = [], []
    ll_ours = gm = None
    for _ in range(args.repeats):
        _sync(device)
        t0 = time.perf_counter()
        ll_ours = fit_ours(X, init, args.iters)
        _sync(device)
        ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        gm = fit_sklearn(Xnp, init, args.iters)
        theirs.append(time.perf_counter() - t0)
    return statistics.median(ours), statistics.median(theirs), ll_ours, float(gm.score(Xnp))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes (20k x 16, K=8)")
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--d", type=int, default=32)
    p.add_argument("--k", type=int, default=16)
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    p.add_argument("--types", default="diag,full")
    p.add_argument("--rtol", type=float, default=1e-6, help="required log-likelihood agreement")
    args = p.parse_args(argv)
    if args.quick:
        args.n, args.d, args.k = 20_000, 16, 8
    device = config.get_device()
    dtype = getattr(torch, args.dtype)
    print("command: python " + " ".join(["tests/benchmarks/gmm_em.py", *(argv or sys.argv[1:])]))
    print(_fair.unset_line())
    print(f"device: {device} | torch {torch.__version__} | sklearn {sklearn.__version__} | "
          f"numpy {np.__version__} | threadpoolctl {threadpoolctl.__version__} | python "
          f"{platform.python_version()}")
    print(f"BLAS: {_fair.describe_blas()}")
    print(f"sizes: N={args.n} D={args.d} K={args.k}, {args.iters} EM iterations from the same start, ours "
          f"in {args.dtype}, sklearn float64 on CPU, median of {args.repeats} interleaved runs")
    Xnp = make_data(args.n, args.d, args.k, seed=0)
    X = torch.as_tensor(Xnp, dtype=dtype, device=device)
    print(f"{'threads':>7} {'type':>5} {'ours [s]':>9} {'sklearn [s]':>11} {'sklearn/ours':>12} "
          f"{'ours loglik':>14} {'sk loglik':>14} {'rel diff':>9}")
    ok = True
    for threads in (int(t) for t in args.threads.split(",")):
        torch.set_num_threads(threads)
        with threadpoolctl.threadpool_limits(threads):
            for ct in args.types.split(","):
                gen = torch.Generator(device=device).manual_seed(0)
                init = init_gmm(X, args.k, ct, generator=gen)
                t_ours, t_sk, ll_ours, ll_sk = run_case(X, Xnp, init, args, device)
                rel = abs(ll_ours - ll_sk) / abs(ll_sk)
                ok &= rel <= args.rtol
                print(f"{threads:>7} {ct:>5} {t_ours:9.3f} {t_sk:11.3f} {t_sk / t_ours:11.2f}x "
                      f"{ll_ours:14.8f} {ll_sk:14.8f} {rel:9.1e}")
    if not ok:
        print(f"log-likelihoods differ by more than rtol={args.rtol}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
