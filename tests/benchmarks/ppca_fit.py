"""Benchmark: PPCA closed form and EM (ppl_models.ppca) vs scikit-learn PCA/FactorAnalysis.

    python tests/benchmarks/ppca_fit.py            # N=20000, D=784 (MNIST-sized), q=32
    python tests/benchmarks/ppca_fit.py --quick    # N=2000, D=64, q=8

Times are taken side by side in one run (best of ``--repeats``); on a shared CPU only the
ratios mean something. Also prints the agreement of the fitted models.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import sklearn
import torch
from sklearn.decomposition import PCA, FactorAnalysis

from ppl_models import config
from ppl_models.ppca import fa_em, fa_log_likelihood, ppca_em, ppca_log_likelihood, ppca_mle


def best_time(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    n, d, q = (2000, 64, 8) if args.quick else (20000, 784, 32)
    em_iters = 50
    dev = config.get_device()
    g = torch.Generator().manual_seed(0)
    W = torch.randn(d, q, generator=g, dtype=torch.float64)
    Z = torch.randn(n, q, generator=g, dtype=torch.float64)
    X = Z @ W.T + torch.randn(n, d, generator=g, dtype=torch.float64)
    Xn = X.numpy()
    print(f"device {dev.type} | torch {torch.__version__} | sklearn {sklearn.__version__} "
          f"| threads {torch.get_num_threads()}")
    print(f"sizes: N={n} D={d} q={q}, EM iterations={em_iters}, best of {args.repeats}")
    print("command: python tests/benchmarks/ppca_fit.py" + (" --quick" if args.quick else ""))
    Xd = X.to(dev)
    t_mle, p = best_time(lambda: ppca_mle(Xd, q), args.repeats)
    t_pca, pca = best_time(lambda: PCA(q, svd_solver="full").fit(Xn), args.repeats)
    t_em, r = best_time(lambda: ppca_em(Xd, q, n_iter=em_iters, tol=0.0), args.repeats)
    t_fa, f = best_time(lambda: fa_em(Xd, q, n_iter=em_iters, tol=0.0), args.repeats)
    t_skfa, fa = best_time(lambda: FactorAnalysis(q, tol=0.0, max_iter=em_iters).fit(Xn), args.repeats)
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
