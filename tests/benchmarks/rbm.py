"""Benchmark: our RBM (ppl_models.ebm) vs scikit-learn's BernoulliRBM, side by side in one run.

    python tests/benchmarks/rbm.py            # H in (64, 500), 20 epochs, AIS with 14,500 betas
    python tests/benchmarks/rbm.py --quick    # H in (64, 500), 3 epochs, AIS with 1,000 betas

Our CD-1 epoch time is printed beside: per step it does the same five matrix products as PCD-1
(hidden probabilities of the data, one Gibbs sweep, the two correlation statistics).

What scikit-learn's ``BernoulliRBM.fit`` does (sklearn/neural_network/_rbm.py): persistent
contrastive divergence with one Gibbs sweep (PCD-1, "stochastic maximum likelihood"), one
persistent chain per row of a mini-batch (started at hidden states 0), hidden *probabilities*
in both statistics, plain SGD on the mean gradient (no momentum, no weight decay),
W ~ N(0, 0.01^2), zero biases, mini-batches in a fixed order. Ours runs the same algorithm:
``RBMConfig(persistent=True, k=1, n_chains=batch_size, momentum=0, weight_decay=0,
init_std=0.01, visible_bias_from_data=False)``, with the same batch size and learning rate
(our loop reshuffles every epoch and starts its chains at hidden samples of the first batch).
Both run in ``--dtype`` (float64 default; scikit-learn keeps float32 input in float32) on one
thread on the same data: statically binarised MNIST-5k (4,000 train, 1,000 test images,
``ppl_models.data.load_mnist5k(binarized=True)``). Runs alternate (ours,
sklearn, ours, ...) and the best seconds per epoch of ``--repeats`` runs count; on a shared CPU
only the ratio means something. Then both trained models (sklearn's ``components_``,
``intercept_visible_``, ``intercept_hidden_`` loaded into our ``RBM``) get the same AIS estimate
of log Z (base-rate model, Salakhutdinov & Murray's schedule, float64) and test NLL in nats.

OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE slow numpy on these machines: this script removes both
from its own environment before numpy is imported, and prints what it removed.
"""

from __future__ import annotations

import _fair  # first: removes the OpenBLAS overrides before numpy loads  # isort: skip

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402

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




def parse_args(argv):
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
    args.epochs = args.epochs or (3 if args.quick else 20)
    args.betas = args.betas or (1_000 if args.quick else 14_500)
    return args


def print_header(argv, args, data) -> None:
    print("command: python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])]))
    print(_fair.unset_line())
    print(config.describe(torch.device("cpu")))
    print(f"python {platform.python_version()} | numpy {np.__version__} | scikit-learn {sklearn.__version__} "
          f"| threadpoolctl {threadpoolctl.__version__} | torch threads {torch.get_num_threads()}")
    print(f"BLAS: {_fair.describe_blas()}")
    print(f"data: {data.name} train {tuple(data.x_train.shape)}, test {tuple(data.x_test.shape)}, "
          f"{args.dtype}; batch {args.batch_size}, lr {args.lr}, {args.epochs} epochs, best of "
          f"{args.repeats}; AIS {args.betas} betas x {args.chains} chains")


def run_case(H: int, args, data) -> tuple:
    """Time PCD-1 (ours and sklearn's, plus our CD-1) for ``H`` hidden units; AIS test NLL of both."""
    pcd = RBMConfig(n_hidden=H, k=1, persistent=True, n_chains=args.batch_size, learning_rate=args.lr,
                    momentum=0.0, weight_decay=0.0, batch_size=args.batch_size, n_epochs=args.epochs,
                    init_std=0.01, visible_bias_from_data=False, seed=0)
    x_np = data.x_train.numpy().copy()
    times = {"ours PCD-1": [], "ours CD-1": [], "sklearn PCD-1": []}
    for _ in range(args.repeats):  # interleaved, so both see the same machine load
        t, ours = time_ours(data.x_train, pcd)
        times["ours PCD-1"].append(t)
        times["ours CD-1"].append(time_ours(data.x_train, replace(pcd, persistent=False))[0])
        t, sk = time_sklearn(x_np, pcd)
        times["sklearn PCD-1"].append(t)
    best = {k: min(v) for k, v in times.items()}
    res = {}
    base, betas = base_rate_bias(data.x_train), ais_betas(args.betas)
    for name, model in (("ours", ours), ("sklearn", from_sklearn(sk))):
        t0 = time.perf_counter()
        ais = ais_log_partition(model, base, betas, args.chains, generator=torch.Generator().manual_seed(1))
        res[name] = (ais, rbm_nll(model, data.x_test, ais), time.perf_counter() - t0)
    print(f"\nH={H}: seconds per epoch  " + "  ".join(f"{k} {v:.3f}" for k, v in best.items())
          + f"  ratio sklearn/ours (PCD-1) {best['sklearn PCD-1'] / best['ours PCD-1']:.2f}")
    for name, (ais, nll, secs) in res.items():
        print(f"  {name:8s} log Z {ais.log_Z:10.3f} +- {ais.log_Z_std_err:.3f} "
              f"(ESS {ais.ess:5.1f}/{args.chains})  test NLL {nll.nll:8.3f} +- {nll.std_err:.3f} nats  "
              f"[AIS {secs:.1f} s]")
    return H, best, res


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    data = load_mnist5k(binarized=True, dtype=getattr(torch, args.dtype), device="cpu")
    with threadpoolctl.threadpool_limits(1):
        print_header(argv, args, data)
        rows = [run_case(H, args, data) for H in args.hidden]
    print("\n| H | s/epoch ours PCD-1 | ours CD-1 | sklearn PCD-1 | sklearn/ours | test NLL ours "
          "| test NLL sklearn |")
    print("|---|---|---|---|---|---|---|")
    for H, best, res in rows:
        o, s = res["ours"][1], res["sklearn"][1]
        a, c, b = best["ours PCD-1"], best["ours CD-1"], best["sklearn PCD-1"]
        print(f"| {H} | {a:.3f} | {c:.3f} | {b:.3f} | {b / a:.2f} | {o.nll:.2f} +- {o.std_err:.2f} "
              f"| {s.nll:.2f} +- {s.std_err:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
