"""GAN losses equal their formulas, the gradient penalty equals finite differences, bad inputs raise."""

import math

import pytest
import torch

from ppl_models import gan
from ppl_models.exact2d import eight_gaussians
from ppl_models.gan import recipes
from ppl_models.nets import MLP
from ppl_models.nets.discriminator import ConvDiscriminator

REAL = torch.tensor([-2.0, 0.0, 0.5, 3.0], dtype=torch.float64)
FAKE = torch.tensor([-4.0, -1.0, 1.5], dtype=torch.float64)


def _log_d(t):  # the textbook formula, fine for moderate logits
    return torch.log(1 / (1 + torch.exp(-t)))


def _log_1md(t):
    return torch.log(1 - 1 / (1 + torch.exp(-t)))


def test_minimax_value_and_losses_equal_the_formulas():
    v = _log_d(REAL).mean() + _log_1md(FAKE).mean()
    assert torch.allclose(gan.gan_value(REAL, FAKE), v, rtol=0, atol=1e-12)
    assert torch.allclose(gan.minimax_d_loss(REAL, FAKE), -v, rtol=0, atol=1e-12)
    assert torch.allclose(gan.minimax_g_loss(FAKE), _log_1md(FAKE).mean(), rtol=0, atol=1e-12)
    assert torch.allclose(gan.nonsaturating_g_loss(FAKE), -_log_d(FAKE).mean(), rtol=0, atol=1e-12)
    # D = 1/2 everywhere: V = -log 4
    zero = torch.zeros(5, dtype=torch.float64)
    assert math.isclose(float(gan.gan_value(zero, zero)), -math.log(4), abs_tol=1e-12)


def test_wgan_and_hinge_losses_equal_the_formulas():
    assert math.isclose(float(gan.wgan_d_loss(REAL, FAKE)), float(FAKE.mean() - REAL.mean()), abs_tol=1e-12)
    assert math.isclose(float(gan.wgan_g_loss(FAKE)), float(-FAKE.mean()), abs_tol=1e-12)
    hinge = sum(max(0.0, 1 - r) for r in REAL.tolist()) / 4 + sum(max(0.0, 1 + f) for f in FAKE.tolist()) / 3
    assert math.isclose(float(gan.hinge_d_loss(REAL, FAKE)), hinge, abs_tol=1e-12)
    assert math.isclose(float(gan.hinge_g_loss(FAKE)), float(-FAKE.mean()), abs_tol=1e-12)


def test_extreme_logits_stay_finite_and_correct():
    big = torch.tensor([1e4, -1e4, 800.0, -800.0], dtype=torch.float32)
    for value in (gan.gan_value(big, big), gan.minimax_d_loss(big, big), gan.minimax_g_loss(big),
                  gan.nonsaturating_g_loss(big), gan.hinge_d_loss(big, big)):
        assert torch.isfinite(value)
    # -log D(G(z)) at logit -1e4 is 1e4; log(1 - D) at logit -1e4 is 0
    assert math.isclose(float(gan.nonsaturating_g_loss(torch.tensor([-1e4]))), 1e4, rel_tol=1e-6)
    assert abs(float(gan.minimax_g_loss(torch.tensor([-1e4])))) < 1e-30
    d_loss = gan.minimax_d_loss(torch.tensor([-1e4]), torch.tensor([1e4]))
    assert math.isclose(float(d_loss), 2e4, rel_tol=1e-6)


def test_saturation_gradients_with_respect_to_the_logit():
    """d/dl log(1 - sigmoid(l)) = -D, d/dl [-log sigmoid(l)] = -(1 - D): one vanishes as D -> 0."""
    logits = torch.tensor([-8.0, -2.0, 0.0, 2.0], dtype=torch.float64, requires_grad=True)
    d = torch.sigmoid(logits.detach())
    (g_mm,) = torch.autograd.grad(gan.minimax_g_loss(logits), logits)
    (g_ns,) = torch.autograd.grad(gan.nonsaturating_g_loss(logits), logits)
    assert torch.allclose(g_mm, -d / 4, rtol=0, atol=1e-12)
    assert torch.allclose(g_ns, -(1 - d) / 4, rtol=0, atol=1e-12)
    assert abs(float(g_mm[0])) < 1e-4 < abs(float(g_ns[0]))


def test_gradient_penalty_equals_finite_differences():
    torch.manual_seed(0)
    net = MLP(3, (16, 16), 1, activation="tanh", seed=0).double()

    def critic(x):
        return net(x).squeeze(-1)

    x = torch.randn(6, 3, dtype=torch.float64)
    h = 1e-6
    grads = torch.zeros_like(x)
    with torch.no_grad():
        for j in range(3):
            e = torch.zeros(3, dtype=torch.float64)
            e[j] = h
            grads[:, j] = (critic(x + e) - critic(x - e)) / (2 * h)
    expected = ((grads.norm(dim=1) - 1) ** 2).mean()
    got = gan.gradient_penalty(critic, x)
    assert torch.allclose(got, expected, rtol=0, atol=1e-8)
    # the penalty is differentiable with respect to the critic's parameters (WGAN-GP trains through it)
    got.backward()
    weights = [p for name, p in net.named_parameters() if name.endswith("weight")]
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in weights)


def test_gradient_penalty_on_images_and_interpolation():
    x = torch.randn(4, 1, 6, 6, dtype=torch.float64)

    def critic(z):  # f(z) = 0.5 * sum z^2: gradient z, norm ||z||
        return 0.5 * (z**2).flatten(1).sum(1)

    expected = ((x.flatten(1).norm(dim=1) - 1) ** 2).mean()
    assert torch.allclose(gan.gradient_penalty(critic, x), expected, rtol=0, atol=1e-12)
    real, fake = torch.ones(5, 1, 2, 2), torch.zeros(5, 1, 2, 2)
    mix = gan.interpolate(real, fake, torch.Generator().manual_seed(0))
    eps = mix[:, 0, 0, 0]
    assert torch.all((eps >= 0) & (eps <= 1)) and torch.allclose(mix, eps.view(-1, 1, 1, 1).expand_as(mix))


@pytest.mark.parametrize("call, name", [
    (lambda: gan.minimax_d_loss(REAL.view(-1, 1), FAKE), "real_logits"),
    (lambda: gan.minimax_d_loss(REAL, torch.tensor([float("nan")])), "fake_logits"),
    (lambda: gan.nonsaturating_g_loss(torch.tensor([1, 2])), "fake_logits"),
    (lambda: gan.minimax_g_loss(torch.zeros(0)), "fake_logits"),
    (lambda: gan.wgan_d_loss(REAL, torch.tensor([float("inf")])), "fake_scores"),
    (lambda: gan.hinge_d_loss([1.0], FAKE), "real_scores"),
    (lambda: gan.gradient_penalty(None, torch.zeros(2, 2)), "critic"),
    (lambda: gan.gradient_penalty(lambda z: z.sum(), torch.zeros(2, 2)), "critic must return"),
    (lambda: gan.gradient_penalty(lambda z: z[:, 0], torch.zeros(2)), "x_hat"),
    (lambda: gan.interpolate(torch.zeros(2, 2), torch.zeros(3, 2)), "real and fake"),
    (lambda: gan.get_loss("wasserstein"), "loss must be one of"),
    (lambda: gan.GANConfig(loss="bce"), "loss"),
    (lambda: gan.GANConfig(n_critic=0), "n_critic"),
    (lambda: gan.GANConfig(lr_d=0.0), "lr_d"),
    (lambda: gan.GANConfig(beta1=1.0), "beta1"),
    (lambda: gan.GANConfig(gp_weight=-1.0), "gp_weight"),
    (lambda: gan.mode_coverage(torch.zeros(3), torch.zeros(8, 2), 0.1), "samples"),
    (lambda: gan.mode_coverage(torch.zeros(3, 2), torch.zeros(8, 3), 0.1), "means"),
    (lambda: gan.mode_coverage(torch.zeros(3, 2), torch.zeros(8, 2), 0.0), "std"),
    (lambda: gan.mode_coverage(torch.zeros(3, 2), torch.zeros(8, 2), 0.1, min_fraction=2.0), "min_fraction"),
    (lambda: gan.sample_generator(MLP(2, (4,), 2), 0, 2), "n"),
    (lambda: gan.sample_generator("G", 3, 2), "generator"),
    (lambda: gan.train_gan(MLP(2, (4,), 2), MLP(2, (4,), 1), torch.zeros(0, 2), gan.GANConfig(z_dim=2)), "x"),
    (lambda: gan.train_gan(MLP(2, (4,), 2), MLP(2, (4,), 1), torch.zeros(4, 2), {"loss": "hinge"}), "cfg"),
    (lambda: ConvDiscriminator((2, 2), (4, 8)), "too small"),
    (lambda: ConvDiscriminator((28, 28), ()), "channels"),
])
def test_bad_inputs_raise_value_error_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_mode_coverage_of_exact_samples_matches_the_gaussian_mass():
    mix = eight_gaussians(noise=0.1)
    x = mix.sample(40_000, torch.Generator().manual_seed(0))
    m = gan.mode_coverage(x, mix.means, 0.1)
    assert m.n_covered == 8 and bool(m.covered.all())
    # P(||x - mu|| < 3 sigma) for a 2-D isotropic Gaussian is 1 - exp(-9/2)
    assert abs(m.high_quality - (1 - math.exp(-4.5))) < 3e-3
    one_mode = mix.means[:1].expand(100, 2)
    m1 = gan.mode_coverage(one_mode, mix.means, 0.1)
    assert m1.n_covered == 1 and m1.high_quality == 1.0 and int(m1.counts[0]) == 100


def _tiny_run(loss, n_critic=1, seed=0):
    x = eight_gaussians(noise=0.1).sample(256, torch.Generator().manual_seed(1)).float()
    G, D = recipes.ring_generator(seed), recipes.ring_discriminator(seed + 100)
    cfg = gan.GANConfig(loss=loss, z_dim=2, n_epochs=2, batch_size=64, n_critic=n_critic, seed=seed)
    return G, gan.train_gan(G, D, x, cfg, eval_fn=lambda s: s, eval_every=3, progress=False)


@pytest.mark.parametrize("loss", sorted(gan.LOSSES))
def test_training_alternates_updates(loss):
    n_critic = 3 if loss == "wgan_gp" else 1
    _, h = _tiny_run(loss, n_critic)
    assert h.d_steps == 8 and h.g_steps == 8 // n_critic
    assert len(h.d_loss) == 8 and len(h.g_loss) == h.g_steps
    assert all(math.isfinite(v) for v in h.d_loss + h.g_loss)
    assert [s for s, _ in h.evals] == [3, 6, 8]


def test_training_is_reproducible_and_samples_have_the_right_shape():
    G1, _ = _tiny_run("nonsaturating")
    G2, _ = _tiny_run("nonsaturating")
    for a, b in zip(G1.parameters(), G2.parameters(), strict=True):
        assert torch.equal(a, b)
    s = gan.sample_generator(G1, 10, 2, torch.Generator().manual_seed(0), batch_size=4)
    assert s.shape == (10, 2) and torch.isfinite(s).all()


def test_separate_learning_rates():
    """With a zero-effect generator learning rate the generator does not move; the discriminator does."""
    x = torch.randn(64, 2)
    G, D = recipes.ring_generator(0), recipes.ring_discriminator(1)
    g0 = [p.detach().clone() for p in G.parameters()]
    d0 = [p.detach().clone() for p in D.parameters()]
    cfg = gan.GANConfig(z_dim=2, n_epochs=1, batch_size=32, lr_g=1e-30, lr_d=1e-2)
    gan.train_gan(G, D, x, cfg, progress=False)
    assert all(torch.allclose(a, b, rtol=0, atol=1e-20) for a, b in zip(g0, G.parameters(), strict=True))
    assert any(not torch.allclose(a, b) for a, b in zip(d0, D.parameters(), strict=True))


def test_conv_discriminator_shapes():
    for side in (8, 28):
        d = ConvDiscriminator((side, side), (4, 8))
        assert d(torch.randn(3, 1, side, side)).shape == (3,)
    assert ConvDiscriminator((10, 6), (4,))(torch.randn(2, 1, 10, 6)).shape == (2,)


def test_recipes_build_in_smoke_mode():
    for fn in (recipes.ch09_ring_minimax, recipes.ch09_ring_nonsaturating, recipes.ch09_ring_wgan_gp,
               recipes.ch09_dcgan_mnist):
        r = fn(True)
        assert r.name == fn.__name__ and r.version == gan.MODEL_VERSION
        model = r.make_model()
        assert isinstance(model, torch.nn.Module)
    assert recipes.ch09_ring_wgan_gp(False).cfg["gan"]["n_critic"] == 5
