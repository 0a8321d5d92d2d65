"""``python -m ppl_models.train``: train a chapter's cached model into the checkpoint cache.

One process::

    python -m ppl_models.train --list
    python -m ppl_models.train ch07_unet_mnist                # the chapter's full-size model
    python -m ppl_models.train ch07_unet_mnist --smoke        # its smoke-mode entry

Many processes (DistributedDataParallel; gloo on a CPU, NCCL on GPUs)::

    torchrun --nproc_per_node=4 -m ppl_models.train ch07_unet_mnist

The entry lands in ``$PPL_CACHE`` (default ``<repo>/.cache``) under the key the chapter computes,
so the notebook run afterwards loads it instead of training.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time

from .. import checkpoint, config, distributed
from .registry import build_recipe, find_recipes, parse_overrides

__all__ = ["main", "make_parser"]

_EPILOG = """\
Overrides and --epochs change the config, and the config is part of the cache key: an entry
trained with them is NOT the one the chapter loads (the chapter reads the entry of its own
config), unless the new config is one the chapter also uses (ch04_beta_vae --set beta=8).
Use them to try variants; train without them to fill the chapter's cache.
Keys are dotted paths into the model's config (see --show): e.g. train.n_epochs=5,
train.lr=0.001, unet.channels=[8,16]. Values are JSON (numbers, true/false, lists) or strings.

Under torchrun --nproc_per_node=N the global batch keeps the config's batch_size (each process
takes batch_size / N rows); the result equals one process up to floating-point order and to the
noise each process draws. Only rank 0 writes the cache entry and prints.

Exit status: 0 trained or already cached, 2 bad model name, override or argument."""


def make_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m ppl_models.train``."""
    p = argparse.ArgumentParser(
        prog="python -m ppl_models.train", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train a chapter's cached model into the cache the notebooks read "
                    "(PPL_CACHE, default <repo>/.cache), on one process or under torchrun.",
        epilog=_EPILOG)
    p.add_argument("model", nargs="?", help="model name (see --list)")
    p.add_argument("--list", action="store_true", help="list the models and exit")
    p.add_argument("--show", action="store_true",
                   help="print the model's config, cache file and whether it is cached, without training")
    p.add_argument("--smoke", action="store_true",
                   help="the small smoke-mode variant (also on when PPL_SMOKE=1 or CI is set)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="change one config value (repeatable); changes the cache key")
    p.add_argument("--epochs", type=int, default=None, metavar="N",
                   help="set every n_epochs of the config to N; changes the cache key")
    p.add_argument("--cache", default=None, metavar="DIR",
                   help="cache folder (default: $PPL_CACHE, else <repo>/.cache)")
    return p


def _say(msg: str) -> None:
    if distributed.is_main():
        print(msg, flush=True)


def _list(out) -> int:
    models, broken = find_recipes()
    width = max((len(m) for m in models), default=10)
    for name, (family, fn) in sorted(models.items()):
        doc = (fn.__doc__ or "").strip().splitlines()
        print(f"{name:{width}s}  {family:16s} {doc[0] if doc else ''}", file=out)
    for mod, err in broken.items():
        print(f"warning: {mod} could not be imported: {err}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit status (2 for a bad model name, override or argument)."""
    parser = make_parser()
    args = parser.parse_args(argv)
    if args.list:
        return _list(sys.stdout)
    if not args.model:
        parser.print_usage(sys.stderr)
        print(f"{parser.prog}: error: give a model name (see --list)", file=sys.stderr)
        return 2
    smoke = args.smoke or config.is_smoke()
    try:
        overrides = parse_overrides(args.overrides)
        recipe = build_recipe(args.model, smoke, overrides, args.epochs)
    except ValueError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 2
    directory = args.cache
    path = checkpoint.cache_path(recipe.name, recipe.cfg, data=recipe.data, version=recipe.version,
                                 directory=directory)
    cached = checkpoint.is_cached(recipe, directory)
    if args.show:
        print(f"model {args.model} ({'smoke' if smoke else 'full'} size): cache name {recipe.name}, "
              f"version {recipe.version}")
        for key, value in sorted(_flat(recipe.cfg).items()):
            print(f"  {key} = {value}")
        print(f"cache file: {path} ({'cached' if cached else 'not cached'})")
        return 0
    return _train(args.model, recipe, smoke, directory, path, cached)


def _flat(cfg: dict) -> dict:
    from .registry import config_paths

    return config_paths(cfg)


def _train(model: str, recipe: checkpoint.Recipe, smoke: bool, directory, path, cached: bool) -> int:
    config.set_threads()
    info = distributed.setup()
    try:
        cached = distributed.broadcast_object(cached)   # rank 0's cache decides for every process/node
        if cached:
            _say(f"{model}: already cached at {path} (delete the file to retrain)")
            return 0
        size = "smoke" if smoke else "full"
        group = info.backend if info.world_size > 1 else "no"
        _say(f"{model}: training the {size}-size model on {info.world_size} process(es), {group} process "
             f"group, device {info.device}")
        t0 = time.perf_counter()

        def train_fn():
            state, extra = recipe.train_fn()
            distributed.check_in_sync(state, f"{model}'s trained state")
            return state, extra

        if distributed.is_main():
            checked = dataclasses.replace(recipe, train_fn=train_fn)
            _, _, was_cached = checkpoint.run_recipe(checked, directory)
        else:
            train_fn()
            was_cached = False
        distributed.barrier()
        seconds = time.perf_counter() - t0
        _say(f"{model}: {'loaded' if was_cached else 'trained'} in {seconds:.1f} s -> {path}")
        return 0
    finally:
        distributed.teardown()
