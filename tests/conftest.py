"""Shared test set-up: float64 where references are compared, a clean smoke switch."""

import os

import pytest
import torch

os.environ.setdefault("PPL_SMOKE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def clean_env(monkeypatch):
    """Remove the run-mode variables so a test sets exactly what it needs."""
    for var in ("CI", "PPL_SMOKE", "PPL_DEVICE", "PPL_SUMMARY_FILE", "PPL_CACHE", "PPL_MNIST_DIR"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch

# JAX reads its CPU device count once, when its backend starts: fix it before any test runs
# JAX, so NumPyro tests can use parallel chains whatever the test order.
from ppl_models import config as _config  # noqa: E402

_config.setup_jax(2)

# The suite runs in parallel workers (make test: two); one intra-op thread per worker keeps
# small tensor operations from fighting over the cores (tens of times slower otherwise).
torch.set_num_threads(1)
