"""NumPyro NUTS vs Pyro NUTS on the eight-schools model, side by side in one run.

    python tests/benchmarks/nuts.py            # 500 warm-up + 1,000 draws, 1 chain, 3 repeats
    python tests/benchmarks/nuts.py --quick    # 100 + 100, 1 repeat

Same model (non-centred), same settings, one chain each. NumPyro is timed twice per repeat:
the first call includes JAX compilation, the second reuses nothing but warm caches.
Prints device, sizes, versions, every time, and the Pyro/NumPyro ratio (median over repeats).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ppl_models import config  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--repeats", type=int, default=None)
    args = p.parse_args()
    warmup, samples = (100, 100) if args.quick else (500, 1000)
    repeats = args.repeats or (1 if args.quick else 3)

    config.setup_jax(1)
    import jax
    import numpyro
    import pyro
    import torch

    from ppl_models import hierarchical as H

    d = H.load_eight_schools()
    print(f"command: python tests/benchmarks/nuts.py{' --quick' if args.quick else ''}")
    cpu = platform.processor() or platform.machine()
    print(f"device: cpu ({cpu}, {torch.get_num_threads()} torch threads)")
    print(f"versions: numpyro {numpyro.__version__}, jax {jax.__version__}, pyro {pyro.__version__}, "
          f"torch {torch.__version__}")
    print(f"sizes: eight schools (J=8), {warmup} warm-up + {samples} draws, 1 chain, {repeats} repeat(s)")
    cold, warm, pyro_t, ratios = [], [], [], []
    for r in range(repeats):
        a = H.run_numpyro_nuts(config.jax_key(r), d.se, d.effect, warmup, samples, num_chains=1)
        b = H.run_numpyro_nuts(config.jax_key(r + 100), d.se, d.effect, warmup, samples, num_chains=1)
        c = H.run_pyro_nuts(d.se, d.effect, warmup, samples, seed=r)
        cold.append(a.seconds)
        warm.append(b.seconds)
        pyro_t.append(c.seconds)
        ratios.append(c.seconds / a.seconds)
        print(f"repeat {r}: numpyro {a.seconds:.2f} s (with compile), {b.seconds:.2f} s (again); "
              f"pyro {c.seconds:.2f} s; ratio pyro/numpyro {ratios[-1]:.1f}x")
    med = statistics.median
    print(f"median: numpyro {med(cold):.2f} s / {med(warm):.2f} s, pyro {med(pyro_t):.2f} s")
    print(f"RATIO pyro/numpyro (compile included): {med(ratios):.1f}x; "
          f"(second call): {med(p / w for p, w in zip(pyro_t, warm, strict=True)):.1f}x")


if __name__ == "__main__":
    main()
