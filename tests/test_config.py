import numpy as np
import pytest
import torch

from ppl_models import config


@pytest.mark.parametrize(
    "ci, smoke, expected",
    [(None, None, False), ("true", None, True), ("1", None, True), ("0", None, False),
     ("false", None, False), ("true", "0", False), (None, "1", True), ("", "1", True)],
)
def test_is_smoke_honours_ci_and_override(clean_env, ci, smoke, expected):
    if ci is not None:
        clean_env.setenv("CI", ci)
    if smoke is not None:
        clean_env.setenv("PPL_SMOKE", smoke)
    assert config.is_smoke() is expected
    assert config.pick("full", "smoke") == ("smoke" if expected else "full")
    assert config.RunSize(full=100, smoke=2).value == (2 if expected else 100)


def test_is_smoke_rejects_garbage(clean_env):
    clean_env.setenv("PPL_SMOKE", "maybe")
    with pytest.raises(ValueError, match="PPL_SMOKE"):
        config.is_smoke()


def test_get_device_default_and_override(clean_env):
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert config.get_device().type == expected
    clean_env.setenv("PPL_DEVICE", "cpu")
    assert config.get_device() == torch.device("cpu")
    assert config.get_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA error")
def test_get_device_cuda_without_gpu_is_a_clear_error(clean_env):
    clean_env.setenv("PPL_DEVICE", "cuda")
    with pytest.raises(ValueError, match="CUDA is not available"):
        config.get_device()


@pytest.mark.parametrize("bad", ["gpu0", "mps", "tpu"])
def test_get_device_rejects_unknown_names(bad):
    with pytest.raises(ValueError, match="device"):
        config.get_device(bad)


def test_seed_everything_reproduces_torch_numpy_pyro():
    import pyro
    import pyro.distributions as dist

    def draw():
        return (torch.rand(3), np.random.rand(3), pyro.sample("x", dist.Normal(0.0, 1.0)))  # noqa: NPY002

    config.seed_everything(123)
    a = draw()
    config.seed_everything(123)
    b = draw()
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and torch.equal(a[2], b[2])


def test_seed_everything_clears_pyro_param_store():
    import pyro

    pyro.param("w", torch.ones(2))
    config.seed_everything(0)
    assert "w" not in pyro.get_param_store()


@pytest.mark.parametrize("bad", [-1, 1.5, "0", True])
def test_seed_everything_rejects_bad_seed(bad):
    with pytest.raises(ValueError, match="seed"):
        config.seed_everything(bad)


def test_setup_jax_gives_two_cpu_devices_and_keys_are_explicit():
    n = config.setup_jax(2)
    assert n == 2
    import jax

    k1, k2 = config.jax_split(config.jax_key(0), 2)
    assert not np.array_equal(np.asarray(jax.random.key_data(k1)), np.asarray(jax.random.key_data(k2)))
    x = jax.random.normal(config.jax_key(7), (3,))
    y = jax.random.normal(config.jax_key(7), (3,))
    assert np.array_equal(np.asarray(x), np.asarray(y))


def test_setup_jax_after_start_with_other_count_is_a_clear_error():
    config.setup_jax(2)
    with pytest.raises(ValueError, match="before any JAX computation"):
        config.setup_jax(3)


@pytest.mark.parametrize("bad", [0, -2, 1.0])
def test_jax_helpers_reject_bad_arguments(bad):
    with pytest.raises(ValueError, match="n_cpu_devices"):
        config.setup_jax(bad)
    with pytest.raises(ValueError, match="num"):
        config.jax_split(config.jax_key(0), bad)
    with pytest.raises(ValueError, match="seed"):
        config.jax_key(-1)


def test_describe_names_mode_and_device(clean_env):
    clean_env.setenv("PPL_SMOKE", "1")
    line = config.describe(torch.device("cpu"))
    assert "mode: smoke" in line and "device: cpu" in line and "torch" in line


def test_set_threads_reads_env_and_defaults_to_one_on_cpu(clean_env):
    before = torch.get_num_threads()
    try:
        clean_env.setenv("PPL_DEVICE", "cpu")
        assert config.set_threads() == 1
        clean_env.setenv("PPL_THREADS", "2")
        assert config.set_threads() == 2
        assert config.set_threads(1) == 1
        assert "threads: 1" in config.describe(torch.device("cpu"))
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("bad", ["0", "-1", "two", "1.5"])
def test_set_threads_rejects_bad_env(clean_env, bad):
    clean_env.setenv("PPL_THREADS", bad)
    with pytest.raises(ValueError, match="PPL_THREADS"):
        config.set_threads()


@pytest.mark.parametrize("bad", [0, -2, 1.5, True])
def test_set_threads_rejects_bad_argument(bad):
    with pytest.raises(ValueError, match="n must be"):
        config.set_threads(bad)
