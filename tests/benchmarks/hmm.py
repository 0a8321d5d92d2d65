"""Benchmark: ppl_models.hmm against hmmlearn, side by side in one run; parallel scan vs sequential.

    python tests/benchmarks/hmm.py            # full sizes
    python tests/benchmarks/hmm.py --quick    # small sizes, < 1 min

Cases (float64, 1-D Gaussian emissions; CPU cases run ours and hmmlearn alternately in one process
and report the median of the repeats; the emission log-likelihoods are computed inside every timed
call, ours and hmmlearn's):
  1. forward-backward and Viterbi, 50 sequences x T=100, K in {2, 10, 50}, ours vs hmmlearn (CPU);
  2. 1,000 sequences x T=1,000, K=32: ours batched on GPU vs hmmlearn on CPU (CUDA only);
  3. parallel scan vs sequential smoother, K=16, T in {1e3 .. 1e6} (GPU; on CPU a shorter range);
  4. Baum-Welch, 5 iterations from the same start, ours vs hmmlearn (CPU).
The GPU cases print a "skipped" line where CUDA is absent. On a shared CPU only the ratios mean
anything. torch runs with --threads threads (default 1, like hmmlearn's C++ loops); numpy's BLAS
is limited to the same count with threadpoolctl.

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
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import threadpoolctl  # noqa: E402
import torch  # noqa: E402

from ppl_models import config, hmm  # noqa: E402
from ppl_models.hmm import parallel  # noqa: E402


def interleaved(fns: dict, repeats: int, cpu: dict | None = None) -> dict:
    """Median wall seconds of each callable, run alternately (one warm-up each) so all see the same
    load; ``cpu``, if given, receives the median CPU seconds of this process (``time.process_time``),
    which a loaded machine's preemptions do not inflate (meaningful for single-threaded runs)."""
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    cpu_times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
            cpu_times[name].append(time.process_time() - c0)
    if cpu is not None:
        cpu.update({name: statistics.median(v) for name, v in cpu_times.items()})
    return {name: statistics.median(v) for name, v in times.items()}


def best_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return min(times)


def gaussian_problem(n_seq, n_steps, k, seed, device="cpu"):
    """A random 1-D Gaussian HMM, data sampled from it, and the matching hmmlearn model."""
    from hmmlearn import hmm as hl

    g = torch.Generator().manual_seed(seed)
    init = torch.full((k,), 1.0 / k, dtype=torch.float64)
    trans = torch.softmax(torch.randn(k, k, generator=g, dtype=torch.float64) + 3 * torch.eye(k), -1)
    em = hmm.gaussian_diag_emission(reg_covar=0.0)
    ep = hmm.GaussianDiagParams(torch.linspace(-k, k, k, dtype=torch.float64)[:, None],
                                torch.full((k, 1), 1.0, dtype=torch.float64))
    params = hmm.HMMParams(init, trans, ep)
    _, x = hmm.sample_hmm(params, em, n_steps, (n_seq,), g)
    model = hl.GaussianHMM(k, covariance_type="diag", init_params="", covars_prior=0.0, min_covar=0.0)
    model.startprob_, model.transmat_ = init.numpy(), trans.numpy()
    model.means_, model.covars_ = ep.means.numpy(), ep.variances.numpy()
    emission = hmm.GaussianDiagParams(*(p.to(device) for p in ep))
    dev_params = hmm.HMMParams(init.to(device), trans.to(device), emission)
    return em, dev_params, x.to(device), model, x.reshape(-1, 1).numpy(), [n_steps] * n_seq


def case_small(ks, repeats):
    print(f"\n1. forward-backward and Viterbi, 50 sequences x T=100 (CPU, float64, median of {repeats}, "
          "interleaved)")
    print(f"{'K':>4} {'ours fb ms':>11} {'hmmlearn fb':>12} {'ratio':>6} {'ours vit ms':>12} "
          f"{'hmmlearn vit':>13} {'ratio':>6} | CPU-time ratios: {'fb':>6} {'vit':>6}")
    rows, same = [], []
    for k in ks:
        em, p, x, model, xs, lengths = gaussian_problem(50, 100, k, seed=k)
        ours_vit, ref_vit = hmm.hmm_viterbi(*hmm.hmm_log_lik_terms(x, p, em)), model.decode(xs, lengths)
        assert np.array_equal(ours_vit.path.reshape(-1).numpy(), ref_vit[1]), "Viterbi paths differ"
        assert abs(float(ours_vit.log_prob.sum()) - ref_vit[0]) <= 1e-8 * abs(ref_vit[0])
        same.append(f"K={k}: {ours_vit.path.numel()} states identical, joint log-prob "
                    f"{float(ours_vit.log_prob.sum()):.6f} vs {ref_vit[0]:.6f}")
        c = {}
        t = interleaved({
            "fb": lambda: hmm.hmm_smoother(*hmm.hmm_log_lik_terms(x, p, em)),  # noqa: B023
            "fb_ref": lambda: model.predict_proba(xs, lengths),  # noqa: B023
            "vt": lambda: hmm.hmm_viterbi(*hmm.hmm_log_lik_terms(x, p, em)),  # noqa: B023
            "vt_ref": lambda: model.decode(xs, lengths)}, repeats, cpu=c)  # noqa: B023
        fb, fb_ref, vt, vt_ref = t["fb"], t["fb_ref"], t["vt"], t["vt_ref"]
        print(f"{k:>4} {fb * 1e3:>11.2f} {fb_ref * 1e3:>12.2f} {fb_ref / fb:>5.2f}x {vt * 1e3:>12.2f} "
              f"{vt_ref * 1e3:>13.2f} {vt_ref / vt:>5.2f}x |{'':>17} {c['fb_ref'] / c['fb']:>5.2f}x "
              f"{c['vt_ref'] / c['vt']:>5.2f}x")
        rows.append((k, fb_ref / fb, vt_ref / vt))
    print("   Viterbi paths vs hmmlearn's: " + "; ".join(same))
    return rows


def case_big(n_seq, n_steps, repeats):
    print(f"\n2. {n_seq} sequences x T={n_steps}, K=32: ours on GPU vs hmmlearn on CPU")
    if not torch.cuda.is_available():
        print("   skipped: no CUDA device on this machine (run on a GPU machine to measure the 50x goal)")
        return None
    em, p, x, model, xs, lengths = gaussian_problem(n_seq, n_steps, 32, seed=1, device="cuda")
    ours = best_time(lambda: hmm.hmm_smoother(*hmm.hmm_log_lik_terms(x, p, em)), repeats)
    ref = best_time(lambda: model.predict_proba(xs, lengths), 1)
    print(f"   ours (cuda) {ours * 1e3:.1f} ms | hmmlearn (cpu) {ref * 1e3:.1f} ms | "
          f"speed-up {ref / ours:.1f}x")
    return ref / ours


def case_scan(lengths, k, device, repeats):
    print(f"\n3. smoother, parallel scan vs sequential loop, K={k}, one sequence, {device}")
    print(f"{'T':>9} {'sequential s':>13} {'parallel s':>11} {'speed-up':>9}")
    g = torch.Generator().manual_seed(0)
    log_init = torch.log_softmax(torch.randn(k, generator=g, dtype=torch.float64), -1).to(device)
    log_trans = torch.log_softmax(torch.randn(k, k, generator=g, dtype=torch.float64), -1).to(device)
    out = []
    for n in lengths:
        ll = torch.randn(n, k, generator=g, dtype=torch.float64).to(device)
        seq = best_time(lambda: hmm.hmm_smoother(log_init, log_trans, ll), repeats)  # noqa: B023
        par = best_time(lambda: parallel.hmm_smoother(log_init, log_trans, ll), repeats)  # noqa: B023
        print(f"{n:>9} {seq:>13.4f} {par:>11.4f} {seq / par:>8.2f}x")
        out.append((n, seq, par))
    return out


def case_em(k, n_iter, repeats):
    print(f"\n4. Baum-Welch, {n_iter} iterations from the same start, 50 sequences x T=100, K={k} (CPU, "
          f"median of {repeats}, interleaved)")
    em, p, x, model, xs, lengths = gaussian_problem(50, 100, k, seed=3)
    from hmmlearn import hmm as hl

    def ref():
        m = hl.GaussianHMM(k, covariance_type="diag", init_params="", n_iter=n_iter, tol=-np.inf,
                           covars_prior=0.0, min_covar=0.0)
        m.startprob_, m.transmat_ = model.startprob_, model.transmat_
        m.means_, m.covars_ = p.emission.means.numpy(), p.emission.variances.numpy()
        return m.fit(xs, lengths)

    t = interleaved({"ours": lambda: hmm.fit_hmm(x, k, em, init=p, n_restarts=1, n_iter=n_iter, tol=-np.inf),
                     "theirs": ref}, repeats)
    ours, theirs = t["ours"], t["theirs"]
    print(f"   ours {ours * 1e3:.1f} ms | hmmlearn {theirs * 1e3:.1f} ms | "
          f"ratio (hmmlearn/ours) {theirs / ours:.2f}x")
    return theirs / ours


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (< 1 min)")
    ap.add_argument("--threads", type=int, default=1, help="torch and numpy-BLAS CPU threads (default 1)")
    ap.add_argument("--repeats", type=int, default=None, help="timed runs per case (default 9, quick 5)")
    ap.add_argument("--cases", default="1,2,3,4", help="comma-separated case numbers to run (default all)")
    args = ap.parse_args(argv)
    cases = {int(c) for c in args.cases.split(",")}
    torch.set_num_threads(args.threads)
    threadpoolctl.threadpool_limits(args.threads)
    warnings.filterwarnings("ignore")
    import hmmlearn

    print("command: python tests/benchmarks/hmm.py" + (" --quick" if args.quick else ""),
          f"--threads {args.threads} --cases {args.cases}"
          + (f" --repeats {args.repeats}" if args.repeats else ""))
    print(_fair.unset_line())
    print(config.describe(torch.device("cpu")), f"| hmmlearn {hmmlearn.__version__} | numpy {np.__version__} "
          f"| python {sys.version.split()[0]} | torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"BLAS: {_fair.describe_blas()}")
    reps = args.repeats or (5 if args.quick else 9)
    if 1 in cases:
        case_small([2, 10] if args.quick else [2, 10, 50], reps)
    if 2 in cases:
        case_big(1000, 1000, 3)
    if 3 in cases:
        cpu_lengths = [1000, 10_000] if args.quick else [1000, 10_000, 100_000]
        case_scan(cpu_lengths, 16, "cpu", 1)
        if torch.cuda.is_available():
            case_scan([1000, 10_000, 100_000, 1_000_000], 16, "cuda", 3)
        else:
            print("   GPU scan (T up to 1e6, goal >= 50x at T=1e5): skipped, no CUDA device")
    if 4 in cases:
        case_em(10, 5, 5 if args.quick else 7)


if __name__ == "__main__":
    main()
