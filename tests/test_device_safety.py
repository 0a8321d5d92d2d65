"""Device safety without a GPU: a static lint over the package and forward passes on ``meta``.

1. Lint (AST): every ``torch.<constructor>(...)`` call in ``ppl_models/`` (eye, zeros, ones,
   full, arange, rand*, empty, linspace, logspace, tensor) passes ``device=``, or is
   immediately moved with ``.to(...)``, or initialises a parameter or buffer in a module's
   constructor (``nn.Parameter(torch.zeros(d))``, ``register_buffer(name, torch.eye(d))``:
   modules are built on the CPU and moved whole with ``.to(device)``), or carries a
   ``# device-free: <reason>`` comment on a line of its statement (a legitimate CPU-only
   tensor, e.g. data loaded before ``.to(device)``).
   A ``**kwargs`` expansion is trusted to carry the device (``kw = dict(dtype=..., device=...)``).
   ``*_like`` and ``x.new_*`` forms inherit the device and are never flagged. ``.cuda()`` and a
   literal ``"cuda"`` device are flagged too (the device is read off parameters or inputs).
2. Meta device: each network and each VAE family runs its forward pass and its loss with
   parameters and inputs on the ``meta`` device. A tensor built on the CPU inside the code
   then meets a meta tensor and torch raises ("Tensor on device cpu is not on the expected
   device meta"), the same failure a CUDA run would hit. (Matrix products happen to accept a
   CPU operand on meta, so the lint is the stricter of the two checks.)
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pyro
import pytest
import torch

from ppl_models import nets
from ppl_models.classifier import ClassifierConfig, FeatureClassifier
from ppl_models.vae import M2, VAE, ConditionalVAE, LinearGaussianVAE, VAEConfig, one_hot

PACKAGE = Path(__file__).resolve().parent.parent / "ppl_models"
CONSTRUCTORS = {"eye", "zeros", "ones", "full", "arange", "rand", "randn", "randint", "randperm", "empty",
                "linspace", "logspace", "tensor"}
EXEMPT = re.compile(r"#\s*device-free:\s*\S")


def device_lint(source: str, filename: str = "<string>") -> list[str]:
    """``file:line: message`` for every device-unsafe tensor constructor in ``source``."""
    tree = ast.parse(source, filename)
    lines = source.splitlines()
    simple = [(s.lineno, s.end_lineno) for s in ast.walk(tree)
              if isinstance(s, ast.stmt) and not hasattr(s, "body")]  # statements without a body
    moved = set()  # constructor calls moved at once (.to) or owned by a module (Parameter, buffer)
    problems = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name == "to" and isinstance(node.func.value, ast.Call):
            moved.add(id(node.func.value))
        if name in ("Parameter", "register_buffer"):
            moved.update(id(a) for a in node.args)
            moved.update(id(a.left) for a in node.args if isinstance(a, ast.BinOp))  # 0.1 * torch.randn(...)
            moved.update(id(a.right) for a in node.args if isinstance(a, ast.BinOp))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        stmt = min((s for s in simple if s[0] <= node.lineno <= s[1]), key=lambda s: s[1] - s[0],
                   default=(node.lineno, node.end_lineno))  # the statement holding the call
        span = lines[min(stmt[0], node.lineno) - 1: max(stmt[1], node.end_lineno)]
        if any(EXEMPT.search(line) for line in span):
            continue
        f = node.func
        if isinstance(f, ast.Attribute) and f.attr == "cuda" and not node.args:
            problems.append(f"{filename}:{node.lineno}: .cuda(); move with .to(device) read off a tensor")
        for kw in node.keywords:
            literal = isinstance(kw.value, ast.Constant) and str(kw.value.value).startswith("cuda")
            if kw.arg == "device" and literal:
                problems.append(f"{filename}:{node.lineno}: literal device={kw.value.value!r}")
        if not (isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "torch"
                and f.attr in CONSTRUCTORS):
            continue
        if any(kw.arg in ("device", None) for kw in node.keywords) or id(node) in moved:  # None: **kwargs
            continue
        problems.append(f"{filename}:{node.lineno}: torch.{f.attr}(...) without device= "
                        "(pass the input's device, or mark '# device-free: <reason>')")
    return problems


def test_lint_flags_and_passes_the_right_calls():
    bad = "import torch\ndef f(x):\n    return x + torch.eye(3, dtype=x.dtype)\n"
    assert len(device_lint(bad)) == 1 and "torch.eye" in device_lint(bad)[0]
    multi = ("import torch\nz = torch.zeros(\n    3,\n    dtype=torch.float64)\nw = x.cuda()\n"
             "v = f(device='cuda:0')\n")
    assert len(device_lint(multi)) == 3
    good = (
        "import torch\n"
        "def f(x):\n"
        "    a = torch.eye(3, dtype=x.dtype, device=x.device)\n"
        "    b = torch.zeros_like(x) + x.new_ones(3)\n"
        "    c = torch.arange(5).to(x.device)\n"
        "    d = torch.randperm(5, generator=g)  # device-free: shuffling indices on the CPU generator\n"
        "    e = torch.tensor(\n"
        "        [1.0])  # device-free: a CPU constant\n"
        "    h = torch.stack([torch.tensor(v)\n"
        "                     for v in w])  # device-free: the comment may end the statement\n"
        "    return a, b, c, d, e, h\n"
    )
    assert device_lint(good) == []
    assert device_lint("import torch\nkw = dict(device=d)\nz = torch.zeros(3, **kw)\n") == []
    module = ("import torch\nclass M(torch.nn.Module):\n    def __init__(self):\n"
              "        self.w = torch.nn.Parameter(0.1 * torch.randn(3))\n"
              "        self.register_buffer('e', torch.eye(3))\n")
    assert device_lint(module) == []
    unexplained = "import torch\nz = torch.ones(2)  # device-free:\n"
    assert len(device_lint(unexplained)) == 1  # a reason is required


def test_package_has_no_device_unsafe_constructors():
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        problems += device_lint(path.read_text(), str(path.relative_to(PACKAGE.parent)))
    assert problems == [], "\n".join(problems)


# ------------------------------------------------------------------ meta-device forward passes
@pytest.fixture
def no_validation():
    """Distribution argument checks read values, which meta tensors do not have."""
    old = torch.distributions.Distribution._validate_args
    with pyro.validation_enabled(False):
        torch.distributions.Distribution.set_default_validate_args(False)
        yield
    torch.distributions.Distribution.set_default_validate_args(old)


META = torch.device("meta")


def _meta(*shape, dtype=torch.float32):
    return torch.empty(*shape, dtype=dtype, device=META)


def test_cpu_constant_meets_meta_tensor_raises():
    """The mechanism the tests below rely on."""
    with pytest.raises(RuntimeError, match="device"):
        _ = _meta(3, 3) + torch.eye(3)


@pytest.mark.parametrize("n_classes", [0, 3])
def test_networks_run_on_meta(n_classes):
    labels = torch.zeros(4, dtype=torch.int64, device=META) if n_classes else None
    unet = nets.UNet(nets.UNetConfig(n_classes=n_classes).smoke()).to(META)
    for side in (8, 28):
        out = unet(_meta(4, 1, side, side), _meta(4), labels)
        assert out.device == META and out.shape == (4, 1, side, side)
        if n_classes:
            unet(_meta(4, 1, side, side), _meta(4), None).sum().backward()
    mlp = nets.TimeMLP(2, hidden=(8,), n_classes=n_classes).to(META)
    mlp(_meta(4, 2), _meta(4), labels).sum().backward()
    assert nets.ConvScalar((4, 8), 16).to(META)(_meta(4, 1, 8, 8)).shape == (4,)
    assert nets.ConvGenerator(3, (8, 8), (4, 4)).to(META)(_meta(4, 3)).shape == (4, 1, 8, 8)
    emb = nets.SinusoidalEmbedding(8)(_meta(4))
    assert emb.device == META


@pytest.mark.parametrize("arch,likelihood", [("mlp", "bernoulli"), ("conv", "gaussian")])
def test_vae_families_run_on_meta(arch, likelihood, no_validation):
    cfg = VAEConfig(image_shape=(8, 8), z_dim=2, hidden=(8,), arch=arch, channels=4, likelihood=likelihood)
    x = _meta(5, 64)
    vae = VAE(cfg).to(META)
    assert vae.log_weights(x, 3).shape == (3, 5)
    vae.log_weights(x, 2).sum().backward()
    assert vae.kl_per_dim(x).shape == (5, 2) and vae.reconstruct(x).device == META
    assert vae.model(None, n=4).device == META
    labels = torch.zeros(5, dtype=torch.int64, device=META)
    cvae = ConditionalVAE(cfg, n_classes=3).to(META)
    c = one_hot(labels, 3).to(META)
    assert cvae.log_weights(x, 2, c).shape == (2, 5)
    assert cvae.generate(labels).shape == (5, 64)


def test_m2_and_linear_vae_run_on_meta(no_validation):
    cfg = VAEConfig(image_shape=(8, 8), z_dim=2, hidden=(8,))
    m2 = M2(cfg, n_classes=3).to(META)
    x = _meta(5, 64)
    assert m2.predict(x).shape == (5,)
    assert m2.generate(torch.zeros(4, dtype=torch.int64, device=META)).shape == (4, 64)
    tr = pyro.poutine.trace(m2.model).get_trace(x, one_hot(torch.zeros(5, dtype=torch.int64), 3).to(META))
    assert tr.nodes["x"]["fn"].batch_shape == (5,)
    lin = LinearGaussianVAE(6, 2).to(META)
    y = _meta(7, 6)
    for out in (lin.elbo(y), lin.exact_log_likelihood(y), lin.log_weights(y, 3)):
        assert out.device == META
    assert lin.exact_posterior(y).mean.shape == (7, 2)
    lin.elbo(y).sum().backward()


def test_feature_classifier_runs_on_meta():
    cfg = ClassifierConfig(dataset="digits").smoke()
    net = nets.ConvClassifier(10, cfg.channels, cfg.feature_dim, cfg.dropout, seed=0).to(META)
    clf = FeatureClassifier(net, cfg)
    x = _meta(3, 64)
    assert clf.features(x).shape == (3, cfg.feature_dim) and clf.logits(x).device == META
