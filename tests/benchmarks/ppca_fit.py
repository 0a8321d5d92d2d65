"""Benchmark: PPCA closed form and EM (ppl_models.ppca) vs scikit-learn PCA/FactorAnalysis.

    python tests/benchmarks/ppca_fit.py            # N=20000, D=784 (MNIST-sized), q=32
    python tests/benchmarks/ppca_fit.py --quick    # N=2000, D=64, q=8

Times are taken side by side in one run, ours and scikit-learn's alternating, the median of
``--repeats`` counts; on a shared CPU only the ratios mean something. Also prints the agreement
of the fitted models. torch and numpy's BLAS run with ``--threads`` threads (default 1).

OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE slow numpy on these machines (OpenBLAS reads both once,
when numpy loads it): this script removes both from its own environment before numpy is imported,
and prints what it removed and the BLAS libraries in use.
"""

from __future__ import annotations

import _fair  # first: removes the OpenBLAS overrides before numpy loads  # isort: skip

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
import threadpoolctl  # noqa: E402
import torch  # noqa: E402
from sklearn.decomposition import PCA, FactorAnalysis  # noqa: E402

from ppl_models import config  # noqa: E402
from ppl_models.ppca import fa_em, fa_log_likelihood, ppca_em, ppca_log_likelihood, ppca_mle  # noqa: E402


def interleaved(fns: dict, repeats: int) -> dict:
    """``{name: (median seconds, last output)}``, the callables run alternately so all see the same load."""
    times, outs = {name: [] for name in fns}, {}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            outs[name] = fn()
            times[name].append(time.perf_counter() - t0)
    return {name: (statistics.median(times[name]), outs[name]) for name in fns}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch and numpy-BLAS threads (default 1)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    threadpoolctl.threadpool_limits(args.threads)
    n, d, q = (2000, 64, 8) if args.quick else (20000, 784, 32)
    em_iters = 50
    dev = config.get_device()
    g = torch.Generator().manual_seed(0)
    W = torch.randn(d, q, generator=g, dtype=torch.float64)
    Z = torch.randn(n, q, generator=g, dtype=torch.float64)
    X = Z @ W.T + torch.randn(n, d, generator=g, dtype=torch.float64)
    Xn = X.numpy()
    print("command: python tests/benchmarks/ppca_fit.py" + (" --quick" if args.quick else "")
          + f" --repeats {args.repeats} --threads {args.threads}")
    print(_fair.unset_line())
    print(f"device {dev.type} | torch {torch.__version__} | sklearn {sklearn.__version__} | numpy "
          f"{np.__version__} | threads {torch.get_num_threads()}")
    print(f"BLAS: {_fair.describe_blas()}")
    print(f"sizes: N={n} D={d} q={q}, EM iterations={em_iters}, median of {args.repeats}, interleaved")
    Xd = X.to(dev)
    r = interleaved({"mle": lambda: ppca_mle(Xd, q), "pca": lambda: PCA(q, svd_solver="full").fit(Xn),
                     "em": lambda: ppca_em(Xd, q, n_iter=em_iters, tol=0.0),
                     "fa": lambda: fa_em(Xd, q, n_iter=em_iters, tol=0.0),
                     "skfa": lambda: FactorAnalysis(q, tol=0.0, max_iter=em_iters).fit(Xn)}, args.repeats)
    (t_mle, p), (t_pca, pca), (t_em, _) = r["mle"], r["pca"], r["em"]
    (t_fa, f), (t_skfa, fa) = r["fa"], r["skfa"]
    ll_ours = ppca_log_likelihood(p, Xd).mean().item()
    ll_sk = float(np.mean(pca.score_samples(Xn)))
    print(f"ppca_mle          {t_mle:8.3f} s   sklearn PCA(full) {t_pca:8.3f} s   "
          f"ratio sklearn/ours {t_pca / t_mle:6.2f}")
    print(f"ppca_em ({em_iters} it)   {t_em:8.3f} s   ({t_em / em_iters * 1e3:.2f} ms/iteration)")
    print(f"fa_em ({em_iters} it)     {t_fa:8.3f} s   sklearn FA ({fa.n_iter_} it) {t_skfa:8.3f} s   "
          f"per-iteration ratio sklearn/ours {(t_skfa / fa.n_iter_) / (t_fa / em_iters):6.2f}")
    print(f"mean log-lik: MLE {ll_ours:.6f} >= sklearn PCA {ll_sk:.6f}: {ll_ours >= ll_sk - 1e-9}")
    print(f"FA mean log-lik after {em_iters} it: ours {fa_log_likelihood(f.params, Xd).mean().item():.4f}, "
          f"sklearn {fa.score(Xn):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
