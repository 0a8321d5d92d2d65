from dataclasses import dataclass

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


def test_load_or_train_reuses_matching_config(tmp_path):
    calls = []

    def train_fn():
        calls.append(1)
        return {"w": torch.full((2,), float(len(calls)))}, {"loss": 0.5}

    s1, e1, cached1 = checkpoint.load_or_train("model", Cfg(), train_fn, tmp_path)
    s2, e2, cached2 = checkpoint.load_or_train("model", Cfg(), train_fn, tmp_path)
    assert (cached1, cached2) == (False, True) and len(calls) == 1
    assert torch.equal(s1["w"], s2["w"]) and e2 == {"loss": 0.5}
    s3, _, cached3 = checkpoint.load_or_train("model", Cfg(hidden=8), train_fn, tmp_path)
    assert not cached3 and s3["w"][0] == 2.0


def test_load_or_train_rebuilds_corrupted_cache(tmp_path):
    checkpoint.load_or_train("m", Cfg(), lambda: ({"w": torch.ones(1)}, None), tmp_path)
    for f in tmp_path.glob("m-*.pt"):
        f.write_bytes(b"junk")
    _, _, cached = checkpoint.load_or_train("m", Cfg(), lambda: ({"w": torch.ones(1)}, None), tmp_path)
    assert not cached


def test_load_or_train_bad_name(tmp_path):
    with pytest.raises(ValueError, match="name"):
        checkpoint.load_or_train("../escape", Cfg(), lambda: ({}, None), tmp_path)


def test_cache_dir_env(tmp_path, clean_env):
    clean_env.setenv("PPL_CACHE", str(tmp_path / "c"))
    assert checkpoint.cache_dir() == tmp_path / "c" and (tmp_path / "c").is_dir()
