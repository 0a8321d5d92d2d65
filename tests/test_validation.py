import numpy as np
import pytest
import torch

from ppl_models.validation import check_int, check_matrix, check_nonneg, check_seed


def test_check_matrix_accepts_and_casts():
    x = torch.zeros(3, 2)
    assert check_matrix(x) is x
    assert check_matrix(x, dtype=torch.float64).dtype == torch.float64
    assert torch.is_tensor(check_matrix(np.zeros((3, 2)), allow_numpy=True))


@pytest.mark.parametrize("bad, match", [
    (np.zeros((3, 2)), "Z must be a torch.Tensor"),
    (torch.zeros(3), r"shape \(N, D\)"),
    (torch.zeros(3, 2, dtype=torch.int64), "floating-point"),
    (torch.zeros(1, 2), "at least 2 row"),
    (torch.tensor([[0.0, float("nan")], [1.0, 2.0]]), "NaN"),
    (torch.zeros(2, 3), "3 columns but the model has dimension 2"),
])
def test_check_matrix_rejects(bad, match):
    with pytest.raises(ValueError, match=match):
        check_matrix(bad, "Z", min_rows=2, dim=2)


def test_scalar_checks():
    assert check_int(3, "n") == 3 and check_int(np.int64(0), "n", low=0) == 0
    assert check_nonneg(0, "tol") == 0.0 and check_seed(5) == 5
    for bad in (True, 1.5, "2"):
        with pytest.raises(ValueError, match="n must be an int"):
            check_int(bad, "n")
    with pytest.raises(ValueError, match=r"k must be in \[1, 3\]"):
        check_int(4, "k", 1, 3)
    for bad in (-1.0, float("inf"), "x", True):
        with pytest.raises(ValueError, match="tol"):
            check_nonneg(bad, "tol")
    with pytest.raises(ValueError, match="seed"):
        check_seed(-1)
