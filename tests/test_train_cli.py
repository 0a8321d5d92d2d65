"""``python -m ppl_models.train``: discovery, overrides, errors (exit status 2) and the cache helpers."""

import dataclasses
import os
import signal
import subprocess
import sys
import types

import pytest
import torch

from ppl_models import checkpoint
from ppl_models.train import cli, registry
from ppl_models.train.registry import (
    build_recipe,
    config_paths,
    epoch_overrides,
    find_recipes,
    override,
    parse_overrides,
)


@dataclasses.dataclass(frozen=True)
class _Cfg:
    n_epochs: int = 3
    lr: float = 0.1
    hidden: tuple = (4, 4)
    name: str = "a"
    flag: bool = False
    maybe: object = None


def _toy_models(calls=None):
    """Two fake recipes: one that takes overrides, one that does not."""
    x = torch.arange(6.0).view(3, 2)

    def toy_fit(smoke: bool, overrides=None):
        cfg = override(_Cfg(n_epochs=1 if smoke else 3), overrides, "train")
        if calls is not None:
            calls.append(cfg)

        def train_fn():
            return {"w": torch.full((2,), float(cfg.n_epochs))}, {"seconds": 0.0}

        return checkpoint.Recipe("toy_fit", {"train": dataclasses.asdict(cfg)}, train_fn, x, 1)

    def fixed(smoke: bool):
        return checkpoint.Recipe("fixed", {"n_epochs": 2}, lambda: ({"w": torch.zeros(1)}, {}), x, 1)

    def deaf(smoke: bool, overrides=None):  # takes overrides but ignores them
        return fixed(smoke)

    return {"toy_fit": ("toy", toy_fit), "fixed": ("toy", fixed), "deaf": ("toy", deaf)}


def test_parse_overrides_reads_json_values_and_names_bad_items():
    got = parse_overrides(["train.lr=1e-3", "unet.channels=[8,16]", "flag=true", "name=abc", "x=null"])
    assert got == {"train.lr": 1e-3, "unet.channels": [8, 16], "flag": True, "name": "abc", "x": None}
    for bad, msg in (("lr", "key=value"), ("=3", "empty key"), ("a..b=1", "empty key")):
        with pytest.raises(ValueError, match=msg):
            parse_overrides([bad])
    with pytest.raises(ValueError, match="twice"):
        parse_overrides(["a=1", "a=2"])


def test_override_coerces_to_the_field_type_and_names_errors():
    cfg = override(_Cfg(), {"n_epochs": 5, "lr": 1, "hidden": [8], "name": "b", "flag": True, "maybe": [1]})
    assert cfg == _Cfg(5, 1.0, (8,), "b", True, [1]) and isinstance(cfg.lr, float) and cfg.hidden == (8,)
    assert override(_Cfg(), {"train.lr": 0.5}, "train").lr == 0.5
    assert override(_Cfg(), {"other.lr": 0.5, "lr": 0.7}, "train") == _Cfg()  # not this section
    assert override(_Cfg(), None) == _Cfg()
    for changes, msg in (
        ({"n_epochs": 2.5}, "integer"),
        ({"n_epochs": True}, "integer"),
        ({"lr": "x"}, "number"),
        ({"flag": 1}, "true or false"),
        ({"name": 3}, "string"),
        ({"hidden": 4}, "list"),
        ({"hidden": ["a"]}, r"hidden\[0\]"),
        ({"nope": 1}, "no field 'nope'"),
    ):
        with pytest.raises(ValueError, match=msg):
            override(_Cfg(), changes)
    with pytest.raises(ValueError, match="dataclass instance"):
        override({"n_epochs": 1}, {"n_epochs": 2})


def test_config_paths_and_epoch_overrides():
    cfg = {"unet": {"channels": [8]}, "train": {"n_epochs": 2, "lr": 0.1}, "n_epochs": 1}
    assert config_paths(cfg) == {"unet.channels": [8], "train.n_epochs": 2, "train.lr": 0.1, "n_epochs": 1}
    assert epoch_overrides(cfg, 7) == {"train.n_epochs": 7, "n_epochs": 7}
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="--epochs"):
            epoch_overrides(cfg, bad)
    with pytest.raises(ValueError, match="no n_epochs"):
        epoch_overrides({"lr": 0.1}, 3)


def test_build_recipe_applies_overrides_and_rejects_what_it_cannot():
    models = _toy_models()
    base = build_recipe("toy_fit", True, models=models)
    changed = build_recipe("toy_fit", True, {"train.lr": 0.5}, epochs=4, models=models)
    assert base.cfg["train"]["n_epochs"] == 1 and changed.cfg["train"] == {
        **base.cfg["train"],
        "lr": 0.5,
        "n_epochs": 4,
    }
    key = checkpoint.cache_path("toy_fit", base.cfg, data=base.data, version=1, directory="/x")
    assert key != checkpoint.cache_path("toy_fit", changed.cfg, data=changed.data, version=1, directory="/x")
    with pytest.raises(ValueError, match="unknown model 'toy'.*did you mean toy_fit"):
        build_recipe("toy", True, models=models)
    with pytest.raises(ValueError, match="unknown model 'zzz'"):
        build_recipe("zzz", True, models=models)
    with pytest.raises(ValueError, match="no config key 'train.nope'.*train.lr"):
        build_recipe("toy_fit", True, {"train.nope": 1}, models=models)
    with pytest.raises(ValueError, match="expected a number"):
        build_recipe("toy_fit", True, {"train.lr": "fast"}, models=models)
    with pytest.raises(ValueError, match="does not take overrides"):
        build_recipe("fixed", True, epochs=3, models=models)
    with pytest.raises(ValueError, match="did not apply"):
        build_recipe("deaf", True, {"n_epochs": 5}, models=models)
    models["bad"] = ("toy", lambda smoke: "not a recipe")
    with pytest.raises(ValueError, match="not a checkpoint.Recipe"):
        build_recipe("bad", True, models=models)


def test_find_recipes_finds_the_chapters_and_reports_broken_modules(monkeypatch):
    models, broken = find_recipes()
    assert not broken
    for name in (
        "ch04_vae_mnist",
        "ch05_rbm_cd1",
        "ch06_ncsn_mnist",
        "ch07_unet_mnist",
        "ch07_toy_eps",
        "classifier_mnist5k",
    ):
        assert name in models
    assert "override" not in models and "build_recipe" not in models  # helpers are not models
    real_import = registry.importlib.import_module

    def failing(name):
        if name == "ppl_models.vae.recipes":
            raise ImportError("boom")
        return real_import(name)

    monkeypatch.setattr(registry.importlib, "import_module", failing)
    models, broken = find_recipes()
    assert "ppl_models.vae.recipes" in broken and "boom" in broken["ppl_models.vae.recipes"]
    assert "ch05_rbm_cd1" in models and "ch04_vae_mnist" not in models


def _recipe_fn(smoke: bool) -> checkpoint.Recipe:
    return checkpoint.Recipe("x", {}, lambda: ({}, {}), torch.zeros(1), 1)


def _helper(smoke: bool) -> torch.Tensor:  # public but not a model: no Recipe return annotation
    return torch.zeros(1)


def test_find_recipes_skips_helpers(monkeypatch):
    real_import = registry.importlib.import_module
    fake = types.SimpleNamespace(
        __all__=["ch99_model", "ch99_data", "ch99_const"],
        ch99_model=_recipe_fn,
        ch99_data=_helper,
        ch99_const=3,
    )
    monkeypatch.setattr(
        registry.importlib,
        "import_module",
        lambda name: fake if name == "ppl_models.vae.recipes" else real_import(name),
    )
    models, _ = find_recipes()
    assert "ch99_model" in models and "ch99_data" not in models and "ch99_const" not in models


def test_find_recipes_rejects_duplicate_names(monkeypatch):
    real_import = registry.importlib.import_module
    dup = types.SimpleNamespace(__all__=["ch07_unet_mnist"], ch07_unet_mnist=_recipe_fn)

    monkeypatch.setattr(
        registry.importlib,
        "import_module",
        lambda name: dup if name == "ppl_models.vae.recipes" else real_import(name),
    )
    with pytest.raises(ValueError, match="ch07_unet_mnist.*both"):
        find_recipes()


def test_main_trains_once_into_the_cache_then_loads(monkeypatch, tmp_path, capsys):
    calls = []
    monkeypatch.setattr(
        cli,
        "build_recipe",
        lambda name, smoke, o, e: build_recipe(name, smoke, o, e, models=_toy_models(calls)),
    )
    assert cli.main(["toy_fit", "--smoke", "--cache", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "training the smoke-size model on 1 process" in out and "trained in" in out
    files = list(tmp_path.glob("toy_fit-*.pt"))
    assert len(files) == 1 and checkpoint.load(files[0])["state"]["w"].tolist() == [1.0, 1.0]
    assert cli.main(["toy_fit", "--smoke", "--cache", str(tmp_path)]) == 0
    assert "already cached" in capsys.readouterr().out
    assert (
        cli.main(["toy_fit", "--smoke", "--cache", str(tmp_path), "--epochs", "2", "--set", "train.lr=0.5"])
        == 0
    )
    assert len(list(tmp_path.glob("toy_fit-*.pt"))) == 2  # another config, another entry
    assert cli.main(["toy_fit", "--show", "--smoke", "--cache", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "train.n_epochs = 1" in out and "(cached)" in out


@pytest.mark.parametrize(
    "argv, msg",
    [
        (["no_such_model"], "unknown model 'no_such_model'"),
        ([], "give a model name"),
        (["ch07_toy_eps", "--set", "train.nope=1"], "no config key 'train.nope'"),
        (["ch07_toy_eps", "--set", "train.lr=fast"], "expected a number"),
        (["ch07_toy_eps", "--set", "lr"], "key=value"),
        (["ch07_toy_eps", "--epochs", "0"], "--epochs must be a positive integer"),
        (["ch07_toy_eps", "--set", "net=[0]"], "positive widths"),
    ],
)
def test_bad_names_and_overrides_exit_2_with_a_message(argv, msg, capsys):
    assert cli.main(argv) == 2
    assert msg in capsys.readouterr().err


def test_module_entry_point_lists_and_fails_cleanly(tmp_path):
    env = {"PPL_THREADS": "1", "PPL_CACHE": str(tmp_path), "PATH": "/usr/bin:/bin"}
    ok = subprocess.run(
        [sys.executable, "-m", "ppl_models.train", "--list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert ok.returncode == 0 and "ch07_unet_mnist" in ok.stdout and "classifier_mnist5k" in ok.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "ppl_models.train", "ch99_nothing"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert (
        bad.returncode == 2 and "unknown model 'ch99_nothing'" in bad.stderr and "Traceback" not in bad.stderr
    )


def test_help_says_overrides_change_the_key(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0 and "changes the cache key" in out and "torchrun" in out and "rank 0" in out


def test_cache_path_and_is_cached(tmp_path):
    x = torch.ones(2, 2)
    recipe = checkpoint.Recipe("m", {"a": 1}, lambda: ({"w": torch.zeros(1)}, {}), x, 1)
    path = checkpoint.cache_path("m", {"a": 1}, data=x, version=1, directory=tmp_path)
    assert (
        path.parent == tmp_path and path.name.startswith("m-") and not checkpoint.is_cached(recipe, tmp_path)
    )
    checkpoint.run_recipe(recipe, tmp_path)
    assert path.is_file() and checkpoint.is_cached(recipe, tmp_path)
    path.write_bytes(b"garbage")
    assert not checkpoint.is_cached(recipe, tmp_path)
    with pytest.raises(ValueError, match="recipe"):
        checkpoint.is_cached("m", tmp_path)
    with pytest.raises(ValueError, match="name"):
        checkpoint.cache_path("bad name", {}, data=x, version=1)


def test_torchrun_two_processes_write_the_one_process_entry_once(tmp_path):
    """``torchrun --nproc_per_node=2 -m ppl_models.train``: rank 0 alone logs and writes the chapter's key."""
    env = {**os.environ, "PPL_THREADS": "1", "OMP_NUM_THREADS": "1", "PPL_DEVICE": "cpu"}
    env.pop("PPL_CACHE", None)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--standalone",
        "-m",
        "ppl_models.train",
        "ch07_toy_eps",
        "--smoke",
        "--cache",
        str(tmp_path),
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True
    )  # its own process group: a hang kills the workers too
    try:
        out, err = proc.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    assert proc.returncode == 0, err[-3000:]
    assert out.count("trained in") == 1 and "2 process(es), gloo" in out
    recipe = build_recipe("ch07_toy_eps", True)
    expected = checkpoint.cache_path(
        recipe.name, recipe.cfg, data=recipe.data, version=recipe.version, directory=tmp_path
    )
    assert [p.name for p in tmp_path.iterdir()] == [expected.name]
    assert checkpoint.is_cached(recipe, tmp_path)
