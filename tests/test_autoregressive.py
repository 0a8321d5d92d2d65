"""Autoregressive models: the autoregressive property (Jacobian), exact normalisation over all
2^D inputs, samplers against the exact probabilities (chi-square), attention against torch."""

import math

import pytest
import torch
from scipy import stats
from torch.nn import functional as F

from ppl_models.autoregressive import (
    ARTrainConfig,
    all_binary,
    log_prob,
    mixture_log_prob,
    nll_nats,
    sample,
    sample_transformer,
    split_validation,
    train_autoregressive,
)
from ppl_models.nets import (
    MADE,
    GatedPixelCNN,
    MADEConfig,
    MaskedLinear,
    PixelCNN,
    PixelCNNConfig,
    PixelTransformer,
    TransformerConfig,
    causal_attention,
    causal_mask,
)

D = 10  # 2 x 5 images: 1,024 binary inputs


def _made(n_orders=1, natural_first=True, dim=D):
    cfg = MADEConfig(dim=dim, hidden=(32, 32), n_orders=n_orders, natural_first=natural_first, seed=1)
    return MADE(cfg).double()


def _pcnn(cls, shape=(2, 5), n_layers=3, first=3):
    cfg = PixelCNNConfig(image_shape=shape, channels=8, n_layers=n_layers, first_kernel=first, seed=2)
    return cls(cfg).double()


def _tf(fused=False, dim=D):
    return PixelTransformer(TransformerConfig(seq_len=dim, d_model=16, n_heads=2, n_layers=2, fused=fused,
                                              seed=3)).double()


def _rank(order):
    rank = torch.empty_like(order)
    rank[order] = torch.arange(len(order))
    return rank


def _jacobian(fn, dim):
    x = torch.rand(1, dim, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    return torch.autograd.functional.jacobian(lambda z: fn(z)[0], x)[:, 0, :]        # (D out, D in)


def _dependencies(fn, dim):
    """dep[i, j]: changing input j changes output i (for networks with discrete inputs)."""
    gen = torch.Generator().manual_seed(0)
    x = torch.bernoulli(torch.full((1, dim), 0.5, dtype=torch.float64), generator=gen)
    base = fn(x)[0]
    dep = torch.zeros(dim, dim, dtype=torch.bool)
    for j in range(dim):
        x2 = x.clone()
        x2[0, j] = 1 - x2[0, j]
        dep[:, j] = (fn(x2)[0] - base).abs() > 1e-12
    return dep


@pytest.mark.parametrize("r", [0, 1, 2])
def test_made_is_autoregressive_in_each_ordering(r):
    net = _made(n_orders=3)
    rank = _rank(net.orders[r])
    dep = _jacobian(lambda z: net(z, r), D).abs() > 0
    assert not (dep & (rank[None, :] >= rank[:, None])).any()          # output i never reads x_{>= i}
    assert (dep | (rank[None, :] >= rank[:, None])).all()              # ... and reads every x_{< i}


def test_pixelcnn_original_has_a_blind_spot_and_gated_does_not():
    shape = (5, 5)
    past = torch.arange(25)[None, :] < torch.arange(25)[:, None]         # raster order
    for cls in (PixelCNN, GatedPixelCNN):
        dep = _jacobian(_pcnn(cls, shape, n_layers=4), 25).abs() > 0
        assert not (dep & ~past).any(), cls.__name__
    blind = past & ~(_jacobian(_pcnn(PixelCNN, shape, n_layers=4), 25).abs() > 0)
    assert blind[2 * 5 + 0, 0 * 5 + 4]          # pixel (2, 0) never sees (0, 4), up and to the right
    assert blind.any()
    gated = _jacobian(_pcnn(GatedPixelCNN, shape, n_layers=4), 25).abs() > 0
    assert torch.equal(gated, past)                                      # the whole causal past


@pytest.mark.parametrize("first,n_layers", [(3, 2), (5, 3)])
def test_gated_pixelcnn_sees_exactly_the_window_in_its_reach(first, n_layers):
    # The module docstring's receptive field: rows i - (a + 1 + L b) .. i - 1 in columns
    # j - (a + L b) .. j + a + L b, and columns j - (a + 1 + L b) .. j - 1 of row i.
    h = w = 17
    i, j = 12, 8
    a, b = first // 2, 1                                                 # kernel = 3 for the later layers
    up, side = a + 1 + n_layers * b, a + n_layers * b
    expected = torch.zeros(h, w, dtype=torch.bool)
    expected[i - up:i, j - side:j + side + 1] = True
    expected[i, j - up:j] = True
    seen = _jacobian(_pcnn(GatedPixelCNN, (h, w), n_layers=n_layers, first=first), h * w)[i * w + j] != 0
    assert torch.equal(seen.view(h, w), expected)
    assert i - up >= 0 and j - up >= 0 and j + side < w                 # the window fits: not the whole past


def test_transformer_is_autoregressive():
    net = _tf()
    dep = _dependencies(net, D)
    past = torch.arange(D)[None, :] < torch.arange(D)[:, None]
    assert torch.equal(dep, past)


def test_masked_conv_masks():
    a, b = causal_mask(3, "A"), causal_mask(3, "B")
    assert a.tolist() == [[1, 1, 1], [1, 0, 0], [0, 0, 0]] and b.tolist() == [[1, 1, 1], [1, 1, 0], [0, 0, 0]]


def _all_models():
    made3 = _made(n_orders=3, natural_first=False)
    return {
        "made": _made(),
        "made_order2": lambda x: made3(x, 2),
        "pixelcnn": _pcnn(PixelCNN),
        "gated": _pcnn(GatedPixelCNN),
        "transformer": _tf(),
    }


@pytest.mark.parametrize("name", ["made", "made_order2", "pixelcnn", "gated", "transformer"])
def test_probabilities_over_all_inputs_sum_to_one(name):
    fn = _all_models()[name]
    x = all_binary(D, dtype=torch.float64)
    with torch.no_grad():
        total = torch.logsumexp(log_prob(fn, x), 0)
    assert abs(float(total)) < 1e-10


def test_mixture_of_orderings_sums_to_one():
    net = _made(n_orders=4, natural_first=False)
    x = all_binary(D, dtype=torch.float64)
    with torch.no_grad():
        lp = mixture_log_prob([lambda z, r=r: net(z, r) for r in range(4)], x)
    assert abs(float(torch.logsumexp(lp, 0))) < 1e-10


def _chi_square_p(x_samples, log_p):
    idx = (x_samples.long() * (2 ** torch.arange(D - 1, -1, -1))).sum(1)
    counts = torch.bincount(idx, minlength=2**D).double()
    expected = log_p.exp() * len(x_samples)
    expected = expected * counts.sum() / expected.sum()
    return stats.chisquare(counts.numpy(), expected.numpy()).pvalue


@pytest.mark.parametrize("name", ["made_order2", "pixelcnn", "transformer"])
def test_sampler_frequencies_match_the_exact_probabilities(name):
    models = _all_models()
    fn = models[name]
    x_all = all_binary(D, dtype=torch.float64)       # rows in binary counting order
    with torch.no_grad():
        log_p = log_prob(fn, x_all)
    gen = torch.Generator().manual_seed(5)
    n = 20_000
    if name == "transformer":
        s = sample_transformer(fn.float(), n, generator=gen)
    elif name == "pixelcnn":
        s = sample(fn.float(), n, D, generator=gen)
    else:
        order = _made(n_orders=3, natural_first=False).orders[2]
        s = sample(lambda z: fn(z.double()), n, D, generator=gen, order=order)
    assert s.nfe == D and s.x.shape == (n, D)
    assert _chi_square_p(s.x, log_p) > 1e-3


def test_completion_keeps_the_prefix():
    net = _tf().float()
    prefix = torch.tensor([[1.0, 0.0, 1.0]]).repeat(4, 1)
    s = sample_transformer(net, 4, generator=torch.Generator().manual_seed(0), prefix=prefix)
    assert torch.equal(s.x[:, :3], prefix)
    s2 = sample(_made().float(), 4, D, generator=torch.Generator().manual_seed(0), prefix=prefix)
    assert torch.equal(s2.x[:, :3], prefix) and s2.nfe == D - 3


def test_attention_from_scratch_equals_torch():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 7, 8, generator=g) for _ in range(3))
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert torch.allclose(causal_attention(q, k, v), ref, atol=1e-6, rtol=0)
    ref_full = F.scaled_dot_product_attention(q, k, v)
    assert torch.allclose(causal_attention(q, k, v, causal=False), ref_full, atol=1e-6, rtol=0)


def test_fused_network_and_kv_cache_equal_the_plain_pass():
    net, fused = _tf().float(), _tf(fused=True).float()
    x = torch.bernoulli(torch.full((3, D), 0.5), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        full = net(x)
        assert torch.allclose(fused(x), full, atol=1e-6, rtol=0)
        caches, prev, steps = [{} for _ in net.blocks], torch.zeros(3), []
        for t in range(D):
            steps.append(net.step(prev, t, caches))
            prev = x[:, t]
    assert torch.allclose(torch.stack(steps, 1), full, atol=1e-5, rtol=0)


def test_masked_linear_applies_its_mask():
    mask = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    lin = MaskedLinear(2, 2, mask)
    jac = torch.autograd.functional.jacobian(lin, torch.ones(2))
    assert jac[0, 1] == 0 and jac[1, 1] != 0
    with pytest.raises(ValueError, match="mask"):
        MaskedLinear(2, 3, mask)


def test_training_lowers_the_nll_and_keeps_the_best_epoch():
    g = torch.Generator().manual_seed(0)
    proto = torch.bernoulli(torch.full((2, D), 0.5), generator=g)
    x = proto[torch.randint(0, 2, (400,), generator=g)]
    flip = torch.bernoulli(torch.full_like(x, 0.05), generator=g)
    x = (x + flip) % 2
    x_fit, x_val = split_validation(x, 100)
    net = MADE(MADEConfig(dim=D, hidden=(32,), seed=0))
    before = nll_nats(net, x_val)
    h = train_autoregressive(net, x_fit, x_val, ARTrainConfig(n_epochs=15, batch_size=50, lr=1e-2, n_val=100,
                                                               patience=3), progress=False)
    assert h.val_nll[h.best_epoch - 1] == min(h.val_nll)
    assert abs(nll_nats(net, x_val) - min(h.val_nll)) < 1e-4
    assert min(h.val_nll) < before - 2 and min(h.val_nll) < D * math.log(2)


def test_bad_inputs_raise_value_errors():
    net = _made().float()
    for bad, match in [(torch.full((2, D), 0.5), "binary"), (torch.zeros(2, D + 1), "columns|shape|dim"),
                       (torch.tensor([[float("nan")] * D]), "NaN"), (torch.zeros(D), "shape")]:
        with pytest.raises(ValueError, match=match):
            log_prob(net, bad) if bad.shape[-1] == D and bad.ndim == 2 else log_prob(net, bad)
    with pytest.raises(ValueError, match="batch_size"):
        log_prob(net, torch.zeros(2, D), batch_size=0)
    with pytest.raises(ValueError, match="order_index"):
        net(torch.zeros(2, D), 1)
    with pytest.raises(ValueError, match="x"):
        net(torch.zeros(2, D + 1))
    gen = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="order"):
        sample(net, 2, D, generator=gen, order=torch.zeros(D, dtype=torch.int64))
    with pytest.raises(ValueError, match="prefix"):
        sample(net, 2, D, generator=gen, prefix=torch.zeros(3, 2))
    with pytest.raises(ValueError, match="generator"):
        sample(net, 2, D, generator=None)
    with pytest.raises(ValueError, match="net"):
        sample_transformer(net, 2, generator=gen)
    with pytest.raises(ValueError, match="q, k"):
        causal_attention(torch.zeros(3, 4), torch.zeros(3, 5), torch.zeros(3, 4))
    for kw, name in [({"dim": 1}, "dim"), ({"hidden": ()}, "hidden"), ({"n_orders": 0}, "n_orders")]:
        with pytest.raises(ValueError, match=name):
            MADEConfig(**kw)
    for kw, name in [({"kernel": 4}, "kernel"), ({"dropout": 1.0}, "dropout"), ({"channels": 0}, "channels")]:
        with pytest.raises(ValueError, match=name):
            PixelCNNConfig(**kw)
    with pytest.raises(ValueError, match="divisible"):
        TransformerConfig(d_model=10, n_heads=3)
    with pytest.raises(ValueError, match="mask_type"):
        causal_mask(3, "C")
    for kw, name in [({"lr": 0}, "lr"), ({"n_val": 0}, "n_val"), ({"patience": 0}, "patience")]:
        with pytest.raises(ValueError, match=name):
            ARTrainConfig(**kw)
    with pytest.raises(ValueError, match="n_val"):
        split_validation(torch.zeros(5, D), 5)
    with pytest.raises(ValueError, match="dim"):
        all_binary(21)
    with pytest.raises(ValueError, match="cfg"):
        PixelCNN({"channels": 8})


def test_recipes_build_their_cache_keys():
    from ppl_models import checkpoint
    from ppl_models.autoregressive import MODEL_VERSION, recipes

    for name in recipes.__all__:
        if not name.startswith("ch10_"):
            continue
        r = getattr(recipes, name)(True)
        assert isinstance(r, checkpoint.Recipe) and r.name == name and r.version == MODEL_VERSION
        assert set(r.cfg) == {"net", "train"} and checkpoint.config_dict(r.cfg)  # JSON-able
        x_fit, x_val = r.data
        assert x_fit.shape[1] == x_val.shape[1] == 784 and len(x_val) == r.cfg["train"]["n_val"]
        net = r.make_model()
        assert net(x_val[:2]).shape == (2, 784)
    changed = recipes.ch10_made_mnist(True, {"train.lr": 0.01})
    assert changed.cfg["train"]["lr"] == 0.01
