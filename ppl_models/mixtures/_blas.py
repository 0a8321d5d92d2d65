"""Matrix products for the EM loops: numpy's BLAS on the CPU, torch's everywhere else.

On CPUs where torch's bundled MKL falls back to slow generic kernels (AMD processors among
them), numpy's OpenBLAS runs the tall-skinny products of EM several times faster. The numpy
route is taken only for CPU float32/float64 tensors that need no gradient, shares memory with
them (no copies of the inputs) and gives the same products up to floating-point summation order.
"""

from __future__ import annotations

import numpy as np
import torch

_NUMPY_DTYPES = (torch.float32, torch.float64)


def numpy_ok(*tensors: torch.Tensor) -> bool:
    """Whether every tensor is a CPU float32/float64 tensor that autograd does not track."""
    return all(t.device.type == "cpu" and t.dtype in _NUMPY_DTYPES and not t.requires_grad
               for t in tensors)


def matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    r"""``a @ b`` (2-D, :math:`(n, m) \times (m, p)`), through numpy's BLAS when :func:`numpy_ok`."""
    if numpy_ok(a, b) and a.dtype == b.dtype:
        return torch.from_numpy(np.matmul(a.numpy(), b.numpy()))
    return a @ b
