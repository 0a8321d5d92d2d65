from dataclasses import dataclass

import numpy as np
import pytest
import torch

from ppl_models import checkpoint


@dataclass(frozen=True)
class Cfg:
    hidden: int = 4
    lr: float = 1e-3
    dims: tuple = (2, 3)


def test_save_load_roundtrip(tmp_path):
    net = torch.nn.Linear(3, 2)
    path = checkpoint.save(tmp_path / "sub" / "m.pt", net.state_dict(), Cfg(), {"epochs": 3})
    payload = checkpoint.load(path)
    assert payload["config"] == {"hidden": 4, "lr": 1e-3, "dims": [2, 3]}
    assert payload["extra"] == {"epochs": 3}
    net2 = torch.nn.Linear(3, 2)
    net2.load_state_dict(payload["state"])
    assert torch.equal(net.weight, net2.weight)
    assert not list((tmp_path / "sub").glob("*.tmp"))  # atomic: no temp file left behind


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        checkpoint.load(tmp_path / "none.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="corrupted"):
        checkpoint.load(bad)
    torch.save({"weights": torch.ones(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="'state'"):
        checkpoint.load(tmp_path / "other.pt")


def test_load_refuses_pickled_code(tmp_path):
    torch.save({"state": {}, "config": None, "extra": {"f": Cfg}}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="corrupted or not a checkpoint"):
        checkpoint.load(tmp_path / "evil.pt")


def test_save_and_config_bad_input(tmp_path):
    with pytest.raises(ValueError, match="state"):
        checkpoint.save(tmp_path / "x.pt", [1, 2])
    with pytest.raises(ValueError, match="cfg"):
        checkpoint.config_dict("hidden=4")
    with pytest.raises(ValueError, match="cfg"):
        checkpoint.config_dict({"f": object()})


X = torch.arange(12.0).reshape(4, 3)


def _counting_train_fn():
    calls = []

    def train_fn():
        calls.append(1)
        return {"w": torch.full((2,), float(len(calls)))}, {"loss": 0.5}
    return train_fn, calls


def test_load_or_train_reuses_when_everything_matches(tmp_path):
    train_fn, calls = _counting_train_fn()
    s1, e1, cached1 = checkpoint.load_or_train("model", Cfg(), train_fn, data=X, version=1,
                                               directory=tmp_path)
    s2, e2, cached2 = checkpoint.load_or_train("model", Cfg(), train_fn, data=X.clone(), version=1,
                                               directory=tmp_path)
    assert (cached1, cached2) == (False, True) and len(calls) == 1
    assert torch.equal(s1["w"], s2["w"]) and e1 == e2 == {"loss": 0.5}
    payload = checkpoint.load(next(tmp_path.glob("model-*.pt")))
    assert payload["meta"] == {"name": "model", "fingerprint": checkpoint.fingerprint(X), "version": 1}
    assert payload["config"] == checkpoint.config_dict(Cfg())


@pytest.mark.parametrize("change", ["config", "data", "version", "version_type", "name", "extra_array"])
def test_load_or_train_retrains_after_any_change(tmp_path, change):
    train_fn, calls = _counting_train_fn()
    base = dict(cfg=Cfg(), data=(X, X[:, 0]), version=1, name="model")
    checkpoint.load_or_train(base["name"], base["cfg"], train_fn, data=base["data"], version=base["version"],
                             directory=tmp_path)
    x2 = X.clone()
    x2[2, 1] += 1.0  # one element
    changed = {"config": {"cfg": Cfg(hidden=8)}, "data": {"data": (x2, X[:, 0])},
               "version": {"version": 2}, "version_type": {"version": "1"}, "name": {"name": "model2"},
               "extra_array": {"data": (X, X[:, 0], X)}}[change]
    args = {**base, **changed}
    s, _, cached = checkpoint.load_or_train(args["name"], args["cfg"], train_fn, data=args["data"],
                                            version=args["version"], directory=tmp_path)
    assert not cached and len(calls) == 2 and s["w"][0] == 2.0
    _, _, cached_again = checkpoint.load_or_train(args["name"], args["cfg"], train_fn, data=args["data"],
                                                  version=args["version"], directory=tmp_path)
    assert cached_again and len(calls) == 2


def test_load_or_train_checks_stored_metadata(tmp_path):
    """A file under the right key whose stored metadata disagrees (e.g. copied by hand) is retrained."""
    train_fn, calls = _counting_train_fn()
    checkpoint.load_or_train("m", Cfg(), train_fn, data=X, version=1, directory=tmp_path)
    (path,) = tmp_path.glob("m-*.pt")
    payload = checkpoint.load(path)
    checkpoint.save(path, payload["state"], payload["config"], payload["extra"],
                    meta={**payload["meta"], "version": 0})
    _, _, cached = checkpoint.load_or_train("m", Cfg(), train_fn, data=X, version=1, directory=tmp_path)
    assert not cached and len(calls) == 2


def test_load_or_train_rebuilds_corrupted_cache(tmp_path):
    fit = lambda: ({"w": torch.ones(1)}, None)  # noqa: E731
    checkpoint.load_or_train("m", Cfg(), fit, data=X, version=1, directory=tmp_path)
    for f in tmp_path.glob("m-*.pt"):
        f.write_bytes(b"junk")
    _, _, cached = checkpoint.load_or_train("m", Cfg(), fit, data=X, version=1, directory=tmp_path)
    assert not cached


def test_load_or_train_requires_data_and_version(tmp_path):
    fit = lambda: ({}, None)  # noqa: E731
    with pytest.raises(TypeError, match="data"):
        checkpoint.load_or_train("m", Cfg(), fit, version=1, directory=tmp_path)
    with pytest.raises(TypeError, match="version"):
        checkpoint.load_or_train("m", Cfg(), fit, data=X, directory=tmp_path)
    with pytest.raises(TypeError):
        checkpoint.load_or_train("m", Cfg(), fit, tmp_path)  # directory is keyword-only too


@pytest.mark.parametrize("kwargs, match", [
    (dict(name="../escape"), "name"),
    (dict(name=""), "name"),
    (dict(cfg="hidden=4"), "cfg"),
    (dict(train_fn=None), "train_fn"),
    (dict(data=None), "data"),
    (dict(data=[1.0, 2.0]), r"data\[0\]"),
    (dict(data=()), "data"),
    (dict(data=(X, "x")), r"data\[1\]"),
    (dict(version=None), "version"),
    (dict(version=True), "version"),
    (dict(version=1.5), "version"),
    (dict(version=""), "version"),
    (dict(version="v" * 65), "version"),
])
def test_load_or_train_bad_arguments(tmp_path, kwargs, match):
    args = {"name": "m", "cfg": Cfg(), "train_fn": lambda: ({}, None), "data": X, "version": 1, **kwargs}
    with pytest.raises(ValueError, match=match):
        checkpoint.load_or_train(args["name"], args["cfg"], args["train_fn"], data=args["data"],
                                 version=args["version"], directory=tmp_path)
    assert not list(tmp_path.glob("*.pt"))


def test_fingerprint_equal_data_equal_fingerprint():
    x = torch.randn(50, 7, generator=torch.Generator().manual_seed(0))
    fp = checkpoint.fingerprint(x)
    assert len(fp) == 64 and int(fp, 16) >= 0
    assert checkpoint.fingerprint(x.clone()) == fp
    assert checkpoint.fingerprint(x.numpy()) == fp                       # numpy and torch agree
    assert checkpoint.fingerprint(x.T.contiguous().T) == fp              # memory layout does not matter
    assert checkpoint.fingerprint(x, x[:, 0]) == checkpoint.fingerprint(x.clone(), x[:, 0].clone())


def test_fingerprint_distinguishes_dtype_shape_value_and_grouping():
    x = torch.randn(50, 8, generator=torch.Generator().manual_seed(0))
    fp = checkpoint.fingerprint(x)
    y = x.clone()
    y[13, 5] = torch.nextafter(y[13, 5], torch.tensor(1e9))          # one element, one ulp
    others = [x.double(), x.reshape(100, 4), x.reshape(-1), x.T, x[:-1], y,
              (x > 0), (x > 0).to(torch.uint8)]
    fps = [checkpoint.fingerprint(o) for o in others]
    assert fp not in fps and len(set(fps)) == len(fps)
    # how the bytes are grouped into arrays matters as well
    assert checkpoint.fingerprint(x[:25], x[25:]) != checkpoint.fingerprint(x[:24], x[24:])
    assert checkpoint.fingerprint(x, x) != checkpoint.fingerprint(x)
    assert checkpoint.fingerprint(torch.zeros(0, 3)) != checkpoint.fingerprint(torch.zeros(3, 0))


def test_fingerprint_bad_input():
    with pytest.raises(ValueError, match="arrays"):
        checkpoint.fingerprint()
    with pytest.raises(ValueError, match=r"arrays\[1\]"):
        checkpoint.fingerprint(X, [1, 2])
    with pytest.raises(ValueError, match=r"arrays\[0\]"):
        checkpoint.fingerprint(np.array(["a", "b"]))


def test_cache_dir_env(tmp_path, clean_env):
    clean_env.setenv("PPL_CACHE", str(tmp_path / "c"))
    assert checkpoint.cache_dir() == tmp_path / "c" and (tmp_path / "c").is_dir()


def test_run_recipe_caches_and_rejects_non_recipes(tmp_path):
    calls = []

    def train_fn():
        calls.append(1)
        return {"w": torch.ones(2)}, {"loss": [1.0]}

    recipe = checkpoint.Recipe("toy", {"a": 1}, train_fn, torch.zeros(3), 1)
    state, extra, cached = checkpoint.run_recipe(recipe, directory=tmp_path)
    assert not cached and extra == {"loss": [1.0]}
    state2, _, cached2 = checkpoint.run_recipe(recipe, directory=tmp_path)
    assert cached2 and len(calls) == 1 and torch.equal(state["w"], state2["w"])
    # the same entry as a direct load_or_train call with the same name, config, data and version
    _, _, cached3 = checkpoint.load_or_train("toy", {"a": 1}, train_fn, data=torch.zeros(3), version=1,
                                             directory=tmp_path)
    assert cached3 and len(calls) == 1
    with pytest.raises(ValueError, match="recipe"):
        checkpoint.run_recipe({"name": "toy"}, directory=tmp_path)
