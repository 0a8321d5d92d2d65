"""Benchmark: our RBM (ppl_models.ebm) vs scikit-learn's BernoulliRBM, side by side in one run.

    python tests/benchmarks/rbm.py            # H in (64, 500), 20 epochs, AIS with 14,500 betas
    python tests/benchmarks/rbm.py --quick    # H in (64, 500), 3 epochs, AIS with 1,000 betas

What scikit-learn's ``BernoulliRBM.fit`` does (sklearn/neural_network/_rbm.py): persistent
contrastive divergence with one Gibbs sweep (PCD-1, "stochastic maximum likelihood"), one
persistent chain per row of a mini-batch (started at hidden states 0), hidden *probabilities*
in both statistics, plain SGD on the mean gradient (no momentum, no weight decay),
W ~ N(0, 0.01^2), zero biases, mini-batches in a fixed order. Ours runs the same algorithm:
``RBMConfig(persistent=True, k=1, n_chains=batch_size, momentum=0, weight_decay=0,
init_std=0.01, visible_bias_from_data=False)``, with the same batch size and learning rate
(our loop reshuffles every epoch and starts its chains at hidden samples of the first batch).
Both run in ``--dtype`` (float64 default; scikit-learn keeps float32 input in float32) on one
thread on the same data: statically binarised MNIST-5k (4,000 train,
1,000 test images, ``ppl_models.data.load_mnist5k(binarized=True)``). Runs alternate (ours,
sklearn, ours, ...) and the best seconds per epoch of ``--repeats`` runs count; on a shared CPU
only the ratio means something. Then both trained models (sklearn's ``components_``,
``intercept_visible_``, ``intercept_hidden_`` loaded into our ``RBM``) get the same AIS estimate
of log Z (base-rate model, Salakhutdinov & Murray's schedule, float64) and test NLL in nats.

OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE slow numpy on these machines: this script removes both
from its own environment before numpy is imported, and prints what it removed.
"""

from __future__ import annotations

import os

_UNSET = {v: os.environ.pop(v) for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if v in os.environ}

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
import threadpoolctl  # noqa: E402
import torch  # noqa: E402
from sklearn.neural_network import BernoulliRBM  # noqa: E402

from ppl_models import config  # noqa: E402
from ppl_models.data import load_mnist5k  # noqa: E402
from ppl_models.ebm import (  # noqa: E402
    RBM,
    RBMConfig,
    ais_betas,
    ais_log_partition,
    base_rate_bias,
    init_rbm,
    rbm_nll,
    train_rbm,
)


def time_ours(x: torch.Tensor, cfg: RBMConfig) -> tuple[float, RBM]:
    rbm = init_rbm(x, cfg)
    hist = train_rbm(rbm, x, cfg, progress=False)
    return hist.seconds / cfg.n_epochs, rbm


def time_sklearn(x: np.ndarray, cfg: RBMConfig) -> tuple[float, BernoulliRBM]:
    sk = BernoulliRBM(n_components=cfg.n_hidden, learning_rate=cfg.learning_rate, batch_size=cfg.batch_size,
                      n_iter=cfg.n_epochs, random_state=cfg.seed)
    t0 = time.perf_counter()
    sk.fit(x)
    return (time.perf_counter() - t0) / cfg.n_epochs, sk


def from_sklearn(sk: BernoulliRBM) -> RBM:
    """scikit-learn's (H, V) ``components_`` is our W transposed (loaded in float64)."""
    t = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float64)
    return RBM(t(sk.components_.T), t(sk.intercept_visible_), t(sk.intercept_hidden_))


def describe_blas() -> str:
    rows = [f"{i.get('internal_api')} {i.get('version')} ({i.get('user_api')}, "
            f"threads={i.get('num_threads')}, {os.path.basename(i.get('filepath', ''))})"
            for i in threadpoolctl.threadpool_info()]
    return "; ".join(rows) or "none found"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="3 epochs, AIS with 1,000 betas")
    p.add_argument("--hidden", type=int, nargs="+", default=[64, 500])
    p.add_argument("--epochs", type=int, default=None, help="default 20 (3 with --quick)")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--betas", type=int, default=None, help="AIS steps; default 14,500 (1,000 with --quick)")
    p.add_argument("--chains", type=int, default=100, help="AIS runs")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                   help="training precision of both models (AIS always float64)")
    args = p.parse_args(argv)
    epochs = args.epochs or (3 if args.quick else 20)
    n_betas = args.betas or (1_000 if args.quick else 14_500)

    torch.set_num_threads(1)
    limits = threadpoolctl.threadpool_limits(1)
    dtype = getattr(torch, args.dtype)
    data = load_mnist5k(binarized=True, dtype=dtype, device="cpu")
    x_tr, x_te = data.x_train, data.x_test
    x_np = x_tr.numpy().copy()
    print("command: python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])]))
    print(f"removed from this process's environment before importing numpy: {_UNSET or 'nothing (unset)'}")
    print(config.describe(torch.device("cpu")))
    print(f"python {platform.python_version()} | numpy {np.__version__} | scikit-learn {sklearn.__version__} "
          f"| threadpoolctl {threadpoolctl.__version__} | torch threads {torch.get_num_threads()}")
    print(f"BLAS: {describe_blas()}")
    print(f"data: {data.name} train {tuple(x_tr.shape)}, test {tuple(x_te.shape)}, {args.dtype}; batch "
          f"{args.batch_size}, lr {args.lr}, {epochs} epochs, best of {args.repeats}; AIS {n_betas} betas x "
          f"{args.chains} chains")
    betas = ais_betas(n_betas)
    base = base_rate_bias(x_tr)
    rows = []
    for H in args.hidden:
        cfg = RBMConfig(n_hidden=H, k=1, persistent=True, n_chains=args.batch_size, learning_rate=args.lr,
                        momentum=0.0, weight_decay=0.0, batch_size=args.batch_size, n_epochs=epochs,
                        init_std=0.01, visible_bias_from_data=False, seed=0)
        ours_t, sk_t = [], []
        for _ in range(args.repeats):
            t, ours = time_ours(x_tr, cfg)
            ours_t.append(t)
            t, sk = time_sklearn(x_np, cfg)
            sk_t.append(t)
        res = {}
        for name, model in (("ours", ours), ("sklearn", from_sklearn(sk))):
            t0 = time.perf_counter()
            gen = torch.Generator().manual_seed(1)
            ais = ais_log_partition(model, base, betas, args.chains, generator=gen)
            nll = rbm_nll(model, x_te, ais)
            res[name] = (ais, nll, time.perf_counter() - t0)
        rows.append((H, min(ours_t), min(sk_t), res))
        print(f"\nH={H}: seconds per epoch  ours {min(ours_t):.3f}  sklearn {min(sk_t):.3f}  "
              f"ratio sklearn/ours {min(sk_t) / min(ours_t):.2f}")
        for name, (ais, nll, secs) in res.items():
            print(f"  {name:8s} log Z {ais.log_Z:10.3f} +- {ais.log_Z_std_err:.3f} "
                  f"(ESS {ais.ess:5.1f}/{args.chains})  test NLL {nll.nll:8.3f} +- {nll.std_err:.3f} nats  "
                  f"[AIS {secs:.1f} s]")
    limits.restore_original_limits()
    print("\n| H | s/epoch ours | s/epoch sklearn | sklearn/ours | test NLL ours | test NLL sklearn |")
    print("|---|---|---|---|---|---|")
    for H, a, b, res in rows:
        (_, o, _), (_, s, _) = res["ours"], res["sklearn"]
        print(f"| {H} | {a:.3f} | {b:.3f} | {b / a:.2f} | {o.nll:.2f} +- {o.std_err:.2f} "
              f"| {s.nll:.2f} +- {s.std_err:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
