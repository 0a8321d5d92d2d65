"""Unit tests for ppl_models.nets: shapes, conditioning, the null label, seeding, bad inputs."""

import math

import pytest
import torch

from ppl_models import nets
from ppl_models.nets import (
    ConvClassifier,
    ConvGenerator,
    ConvScalar,
    ConvTrunk,
    SinusoidalEmbedding,
    TimeMLP,
    UNet,
    UNetConfig,
    count_parameters,
    describe,
    seeded,
)

SMALL = UNetConfig(channels=(4, 8), time_dim=8, groups=2)


def _x(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_time_mlp_shapes_and_conditioning():
    net = TimeMLP(2, hidden=(16, 16), n_classes=3)
    x, t = _x(5, 2), torch.rand(5)
    assert net(x, t).shape == (5, 2)
    assert TimeMLP(2, hidden=(8,), out_dim=1)(x, t).shape == (5, 1)
    assert not torch.allclose(net(x, t), net(x, 1 - t))  # depends on t
    y0, y1 = torch.zeros(5, dtype=torch.int64), torch.ones(5, dtype=torch.int64)
    assert not torch.allclose(net(x, t, y0), net(x, t, y1))  # depends on y
    null = torch.full((5,), 3, dtype=torch.int64)
    assert torch.equal(net(x, t), net(x, t, null))  # y=None is the learned null label n_classes
    assert not torch.allclose(net(x, t, null), net(x, t, y0))


@pytest.mark.parametrize("side", [8, 28])
def test_unet_shapes_and_conditioning(side):
    net = UNet(UNetConfig(channels=(4, 8), time_dim=8, groups=2, n_classes=10))
    x, t = _x(3, 1, side, side), torch.rand(3)
    out = net(x, t)
    assert out.shape == x.shape
    assert not torch.allclose(out, net(x, 1 - t))
    y = torch.tensor([0, 1, 2])
    assert not torch.allclose(net(x, t, y), net(x, t, y + 1))
    assert torch.equal(out, net(x, t, torch.full((3,), 10)))  # None == the null label
    assert not torch.allclose(out, net(x, t, y))


def test_unet_odd_sizes_and_three_levels():
    net = UNet(UNetConfig(channels=(4, 8, 8), time_dim=8, groups=2))
    for h, w in ((28, 28), (7, 9), (8, 8)):
        assert net(_x(2, 1, h, w), torch.rand(2)).shape == (2, 1, h, w)


def test_unet_config_smoke_and_validation():
    s = UNetConfig().smoke()
    assert s.channels == (8, 16) and count_parameters(UNet(s)) < count_parameters(UNet(UNetConfig()))
    for kw, name in [({"channels": ()}, "channels"), ({"channels": (0, 4)}, "channels"),
                     ({"time_dim": 7}, "time_dim"), ({"n_classes": -1}, "n_classes"), ({"seed": -1}, "seed")]:
        with pytest.raises(ValueError, match=name):
            UNetConfig(**kw)
    with pytest.raises(ValueError, match="cfg"):
        UNet({"channels": (4, 8)})


def test_trunk_heads_generator_shapes():
    for side in (8, 28):
        x = _x(4, 1, side, side)
        assert ConvTrunk((4, 8), 16)(x).shape == (4, 16)
        clf = ConvClassifier(10, (4, 8), 16)
        assert clf(x).shape == (4, 10) and clf.features(x).shape == (4, 16)
        assert ConvScalar((4, 8), 16)(x).shape == (4,)
        assert ConvGenerator(3, (side, side), (8, 4))(_x(4, 3)).shape == (4, 1, side, side)
    g = ConvGenerator(3, (10, 6), (8, 4))(_x(2, 3))
    assert g.shape == (2, 1, 10, 6) and g.abs().max() <= 1  # tanh output, cropped to odd sizes


def test_same_seed_same_weights_whatever_the_global_rng():
    builders = [lambda: UNet(SMALL), lambda: TimeMLP(2, (8,), n_classes=2, seed=3),
                lambda: ConvClassifier(10, (4, 8), 16, seed=3), lambda: ConvScalar((4, 8), 16, seed=3),
                lambda: ConvGenerator(3, (8, 8), (8, 4), seed=3)]
    for build in builders:
        torch.manual_seed(0)
        a = build()
        torch.manual_seed(123)
        _ = torch.rand(10)
        state = torch.random.get_rng_state()
        b = build()
        assert torch.equal(torch.random.get_rng_state(), state)  # the global RNG is left untouched
        for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
            assert ka == kb and torch.equal(va, vb), ka
    c = UNet(UNetConfig(channels=(4, 8), time_dim=8, groups=2, seed=1))
    assert not torch.equal(c.conv_in.weight, UNet(SMALL).conv_in.weight)


def test_seeded_context_and_bad_seed():
    with seeded(5):
        a = torch.rand(3)
    with seeded(5):
        b = torch.rand(3)
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="seed"):
        with seeded(-1):
            pass


def test_sinusoidal_embedding_values_bounded_and_distinct():
    emb = SinusoidalEmbedding(8, scale=1000.0)
    t = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
    e = emb(t)
    assert e.shape == (3, 8) and e.dtype == torch.float64 and e.abs().max() <= 1
    k = torch.arange(4, dtype=torch.float64)
    arg = 1000.0 * 0.5 * torch.exp(-math.log(10_000.0) * k / 4)
    torch.testing.assert_close(e[1], torch.cat([arg.sin(), arg.cos()]), rtol=0, atol=1e-12)
    torch.testing.assert_close(e[0], torch.tensor([0.0] * 4 + [1.0] * 4, dtype=torch.float64))
    assert (e[0] - e[1]).norm() > 0.1 and (e[1] - e[2]).norm() > 0.1
    close = emb(torch.tensor([0.5, 0.5001], dtype=torch.float64))
    assert (close[0] - close[1]).norm() < (e[1] - e[2]).norm()  # nearby times, nearby embeddings
    for dim in (0, 3, True):
        with pytest.raises(ValueError, match="dim"):
            SinusoidalEmbedding(dim)


def test_count_parameters_and_describe():
    lin = torch.nn.Linear(3, 2)
    assert count_parameters(lin) == 8
    lin.bias.requires_grad_(False)
    assert count_parameters(lin) == 6 and count_parameters(lin, trainable_only=False) == 8
    assert describe(torch.nn.Linear(3, 2)) == "Linear: 8 parameters"
    assert describe(UNet(UNetConfig())).startswith("UNet: ") and "," in describe(UNet(UNetConfig()))
    with pytest.raises(ValueError, match="module"):
        count_parameters("not a module")


def test_float64_inputs_follow_the_parameters():
    net = UNet(SMALL).double()
    assert net(_x(2, 1, 8, 8).double(), torch.rand(2, dtype=torch.float64)).dtype == torch.float64
    mlp = TimeMLP(2, (8,), n_classes=2).double()
    assert mlp(_x(3, 2).double(), torch.rand(3, dtype=torch.float64)).dtype == torch.float64


def test_bad_inputs_name_the_argument():
    unet = UNet(UNetConfig(channels=(4, 8), time_dim=8, groups=2, n_classes=3))
    x, t = _x(2, 1, 8, 8), torch.rand(2)
    cases = [
        (lambda: unet(x, torch.rand(2, 1)), "t"),
        (lambda: unet(x, torch.rand(3)), "t"),
        (lambda: unet(x, torch.tensor([0.1, float("nan")])), "t"),
        (lambda: unet(_x(2, 2, 8, 8), t), "x"),
        (lambda: unet(_x(2, 64), t), "x"),
        (lambda: unet(x.masked_fill(x > 1, float("nan")), t), "x"),
        (lambda: unet(x, t, torch.tensor([0, 4])), "y"),
        (lambda: unet(x, t, torch.tensor([0, -1])), "y"),
        (lambda: unet(x, t, torch.tensor([0.0, 1.0])), "y"),
        (lambda: UNet(SMALL)(x, t, torch.tensor([0, 1])), "y"),
        (lambda: TimeMLP(2, (8,))(_x(3, 3), torch.rand(3)), "x"),
        (lambda: TimeMLP(2, (8,))(_x(3, 2), torch.rand(3, 1)), "t"),
        (lambda: TimeMLP(2, (8,), n_classes=2)(_x(3, 2), torch.rand(3), torch.tensor([0, 1, 3])), "y"),
        (lambda: ConvTrunk((4,), 8)(_x(2, 3, 8, 8)), "x"),
        (lambda: ConvTrunk((4,), 8)(torch.full((2, 1, 8, 8), float("nan"))), "x"),
        (lambda: ConvGenerator(3, (8, 8))(_x(2, 4)), "z"),
        (lambda: SinusoidalEmbedding(4)(torch.zeros(2, 2)), "t"),
        (lambda: ConvTrunk((4,), 8, pooling="median"), "pooling"),
        (lambda: ConvTrunk((4,), 8, activation="swishy"), "activation"),
        (lambda: ConvGenerator(3, (0, 8)), "image_shape"),
        (lambda: TimeMLP(0), "dim"),
    ]
    for fn, name in cases:
        with pytest.raises(ValueError, match=rf"\b{name}\b"):
            fn()


def test_package_defines_networks_only_in_nets():
    """No nn.Module subclass outside nets/ except model classes (a VAE's model/guide, an RBM's energy)."""
    import ast
    from pathlib import Path

    root = Path(nets.__file__).resolve().parent.parent
    models = {"VAE", "M2", "LinearGaussianVAE", "ConditionalVAE", "RBM"}
    found = []
    for path in root.rglob("*.py"):
        if "nets" in path.relative_to(root).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.name not in models:
                bases = {ast.unparse(b) for b in node.bases}
                if bases & {"nn.Module", "torch.nn.Module", "Module"}:
                    found.append(f"{path.relative_to(root)}:{node.name}")
    assert found == [], found
