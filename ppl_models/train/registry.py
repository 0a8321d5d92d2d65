"""Find every cached model of the course and build it with command-line overrides.

A model family's ``ppl_models.<family>.recipes`` module lists (in ``__all__``) functions
``name(smoke: bool) -> checkpoint.Recipe`` (annotated so: other public helpers are skipped). A
function that also takes ``overrides`` accepts ``--set key=value`` and ``--epochs`` from the
command line and applies them with :func:`override`. Override keys are dotted paths into the
recipe's config dict: ``train.n_epochs`` when the cache config is ``{"unet": {...}, "train":
{...}}``, ``n_epochs`` when it is one flat config. An override changes the config and therefore
the cache key: the chapter only loads an entry trained with its own config.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import pkgutil
from collections.abc import Callable, Mapping
from typing import Any

from ..checkpoint import Recipe

__all__ = ["find_recipes", "parse_overrides", "override", "epoch_overrides", "build_recipe", "config_paths"]

RecipeFn = Callable[..., Recipe]


def find_recipes() -> tuple[dict[str, tuple[str, RecipeFn]], dict[str, str]]:
    """Every ``ppl_models.<family>.recipes`` module's recipe functions.

    Returns:
        ``(models, broken)``: ``models`` maps a model name (the function's name) to
        ``(family, function)``; ``broken`` maps the module name of a recipes module that failed
        to import to the error, so one broken family does not hide the others.

    Raises:
        ValueError: two families define a recipe with the same name.
    """
    import ppl_models

    models: dict[str, tuple[str, RecipeFn]] = {}
    broken: dict[str, str] = {}
    for info in sorted(pkgutil.iter_modules(ppl_models.__path__), key=lambda i: i.name):
        if not info.ispkg:
            continue
        modname = f"ppl_models.{info.name}.recipes"
        if importlib.util.find_spec(modname) is None:
            continue
        try:
            mod = importlib.import_module(modname)
        except Exception as err:  # noqa: BLE001 - reported, the other families still load
            broken[modname] = f"{type(err).__name__}: {err}"
            continue
        for fn_name in getattr(mod, "__all__", []):
            fn = getattr(mod, fn_name, None)
            if not callable(fn) or not _is_recipe_fn(fn):
                continue
            if fn_name in models:
                raise ValueError(f"recipe {fn_name!r} is defined by both {models[fn_name][0]} "
                                 f"and {info.name}")
            models[fn_name] = (info.name, fn)
    return models, broken


def parse_overrides(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``["train.lr=1e-3", "unet.channels=[8,16]"]`` -> ``{"train.lr": 0.001, "unet.channels": [8, 16]}``.

    Values are read as JSON (numbers, ``true``/``false``, ``null``, lists); anything else stays
    a string. Raises ValueError naming the item for a missing ``=``, an empty key or a repeat.
    """
    out: dict[str, Any] = {}
    for item in items:
        if not isinstance(item, str) or "=" not in item:
            raise ValueError(f"override {item!r} must look like key=value (e.g. train.n_epochs=5)")
        key, raw = item.split("=", 1)
        key = key.strip()
        if not key or any(not part for part in key.split(".")):
            raise ValueError(f"override {item!r} has an empty key")
        if key in out:
            raise ValueError(f"override key {key!r} is given twice")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def _coerce(key: str, value: Any, current: Any) -> Any:
    """``value`` in the type of the field's ``current`` value, or a ValueError naming ``key``."""
    def bad(kind: str):
        return ValueError(f"override {key}={value!r}: expected {kind} (the current value is {current!r})")

    if current is None:
        return value
    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if isinstance(current, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("an integer")
        return value
    if isinstance(current, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad("a number")
        return float(value)
    if isinstance(current, str):
        if not isinstance(value, str):
            raise bad("a string")
        return value
    if isinstance(current, (tuple, list)):
        if not isinstance(value, list):
            raise bad("a list such as [1,2]")
        if current:
            value = [_coerce(f"{key}[{i}]", v, current[0]) for i, v in enumerate(value)]
        return type(current)(value)
    raise bad(type(current).__name__)


def override(cfg: Any, overrides: Mapping[str, Any] | None, section: str | None = None) -> Any:
    """A copy of the config dataclass ``cfg`` with the overrides meant for it.

    Args:
        cfg: a dataclass instance (e.g. ``DenoiserConfig()``).
        overrides: ``{dotted key: value}`` (from :func:`parse_overrides`) or None.
        section: the key of ``cfg`` in the recipe's config dict (``"train"`` picks
            ``train.*`` keys); None for a recipe whose config is ``cfg`` itself (bare keys).

    Returns:
        ``dataclasses.replace(cfg, ...)`` (the dataclass re-validates the values).

    Raises:
        ValueError: a key of this section names no field, or a value has the wrong type.
    """
    if not dataclasses.is_dataclass(cfg) or isinstance(cfg, type):
        raise ValueError(f"cfg must be a dataclass instance, got {type(cfg).__name__}")
    if not overrides:
        return cfg
    fields = {f.name for f in dataclasses.fields(cfg)}
    changes = {}
    for key, value in overrides.items():
        head, _, rest = key.partition(".")
        if section is None:
            if rest:
                continue
            field = key
        else:
            if head != section:
                continue
            field = rest
        if field not in fields:
            raise ValueError(f"override {key!r}: {type(cfg).__name__} has no field {field!r}; "
                             f"fields: {', '.join(sorted(fields))}")
        changes[field] = _coerce(key, value, getattr(cfg, field))
    return dataclasses.replace(cfg, **changes) if changes else cfg


def config_paths(cfg: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """The leaves of a nested config dict by dotted path: ``{"train.lr": 0.001, ...}``."""
    out: dict[str, Any] = {}
    for k, v in cfg.items():
        path = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(config_paths(v, path + "."))
        else:
            out[path] = v
    return out


def epoch_overrides(cfg: Mapping[str, Any], n_epochs: int) -> dict[str, int]:
    """``--epochs N`` as overrides: every ``n_epochs`` entry of the config set to ``n_epochs``."""
    if isinstance(n_epochs, bool) or not isinstance(n_epochs, int) or n_epochs < 1:
        raise ValueError(f"--epochs must be a positive integer, got {n_epochs!r}")
    keys = [k for k in config_paths(cfg) if k.rsplit(".", 1)[-1] == "n_epochs"]
    if not keys:
        raise ValueError("--epochs: this model's config has no n_epochs setting; use --set with one of "
                         "its keys")
    return {k: n_epochs for k in keys}


def _is_recipe_fn(fn) -> bool:
    """``name(smoke, ...) -> Recipe``: first parameter ``smoke``, annotated to return a Recipe.

    Other public helpers of a recipes module (data loaders, config builders) are not models.
    """
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    params = list(sig.parameters)
    ret = sig.return_annotation
    returns_recipe = ret is Recipe or (isinstance(ret, str) and ret.rsplit(".", 1)[-1] == "Recipe")
    return bool(params) and params[0] == "smoke" and returns_recipe


def _takes_overrides(fn: RecipeFn) -> bool:
    try:
        return "overrides" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def build_recipe(name: str, smoke: bool, overrides: Mapping[str, Any] | None = None,
                 epochs: int | None = None,
                 models: dict[str, tuple[str, RecipeFn]] | None = None) -> Recipe:
    """Build model ``name``'s :class:`~ppl_models.checkpoint.Recipe` with the given changes.

    Args:
        name: a model name from :func:`find_recipes` (``python -m ppl_models.train --list``).
        smoke: the tiny variant (the chapter's smoke-mode cache entry).
        overrides: ``{dotted key: value}``; every key must be a path of the recipe's config.
        epochs: sets every ``n_epochs`` of the config (after ``overrides``).
        models: the result of :func:`find_recipes` (found afresh when None).

    Raises:
        ValueError: unknown model, an override key that is not in the config, a value of the
        wrong type, or a recipe that does not take overrides.
    """
    if models is None:
        models, broken = find_recipes()
    else:
        broken = {}
    if not isinstance(name, str) or name not in models:
        close = [m for m in models if isinstance(name, str) and (name in m or m in name)]
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        extra = f" ({len(broken)} recipes module(s) failed to import: {', '.join(broken)})" if broken else ""
        raise ValueError(f"unknown model {name!r}{hint}. Run `python -m ppl_models.train --list` for the "
                         f"{len(models)} models{extra}")
    _, fn = models[name]
    changes = dict(overrides or {})
    if epochs is not None or changes:
        base = fn(smoke)
        if not isinstance(base, Recipe):
            raise ValueError(f"recipe {name!r} returned {type(base).__name__}, not a checkpoint.Recipe")
        paths = config_paths(base.cfg)
        if epochs is not None:
            changes.update(epoch_overrides(base.cfg, epochs))
        unknown = [k for k in changes if k not in paths]
        if unknown:
            raise ValueError(f"model {name!r} has no config key {', '.join(map(repr, unknown))}; "
                             f"its keys: {', '.join(paths)}")
        if not _takes_overrides(fn):
            raise ValueError(f"model {name!r} does not take overrides (its recipe function has no "
                             "'overrides' argument)")
        recipe = fn(smoke, overrides=changes)
        got = config_paths(_jsonable(recipe.cfg))
        ignored = [k for k, v in changes.items() if k not in got or got[k] != _jsonable(v)]
        if ignored:
            raise ValueError(f"model {name!r} did not apply the override(s) {', '.join(ignored)}")
        return recipe
    recipe = fn(smoke)
    if not isinstance(recipe, Recipe):
        raise ValueError(f"recipe {name!r} returned {type(recipe).__name__}, not a checkpoint.Recipe")
    return recipe


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value))
