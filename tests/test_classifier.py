"""Unit tests for ppl_models.classifier (smoke configs: each model trains in about a second)."""

import pytest
import torch

from ppl_models import classifier as C
from ppl_models.data import load_digits, load_mnist5k
from ppl_models.nets import ConvClassifier


@pytest.fixture(scope="module")
def digits():
    return load_digits(device="cpu")


@pytest.fixture(scope="module")
def smoke_clf(tmp_path_factory):
    return C.load_feature_classifier("digits", smoke=True, device="cpu", progress=False,
                                     directory=tmp_path_factory.mktemp("cache"))


def _constant_classifier(bias):
    """A classifier whose logits are ``bias`` for every image (head weights zero)."""
    cfg = C.ClassifierConfig(dataset="digits").smoke()
    net = ConvClassifier(10, cfg.channels, cfg.feature_dim, seed=0)
    with torch.no_grad():
        net.head.linear.weight.zero_()
        net.head.linear.bias.copy_(bias)
    return C.FeatureClassifier(net, cfg)


def test_features_logits_predict_shapes(smoke_clf, digits):
    x = digits.x_test[:7]
    assert smoke_clf.features(x).shape == (7, smoke_clf.cfg.feature_dim)
    logits = smoke_clf.logits(x)
    assert logits.shape == (7, 10) and smoke_clf.predict(x).dtype == torch.int64
    assert torch.equal(smoke_clf.features(x), smoke_clf.features(x.reshape(7, 1, 8, 8)))  # flat == image
    assert torch.equal(smoke_clf.predict(x), logits.argmax(-1))
    smoke_clf.batch_size = 3  # batched evaluation gives the same numbers
    torch.testing.assert_close(smoke_clf.logits(x), logits, rtol=0, atol=1e-5)
    smoke_clf.batch_size = 1000


def test_helpers_on_controlled_logits(digits):
    bias = torch.tensor([0.0, 0.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0])
    clf = _constant_classifier(bias)
    x = digits.x_test[:10]
    assert torch.equal(clf.predict(x), torch.full((10,), 2))
    hist = C.class_histogram(clf, x)
    assert hist.tolist() == [0, 0, 10, 0, 0, 0, 0, 0, 0, 0]
    requested = torch.tensor([2, 2, 2, 2, 1, 1, 0, 0, 9, 9])
    assert C.fraction_as_requested(clf, x, requested) == pytest.approx(0.4, abs=1e-12)
    p_max = float(torch.softmax(bias.double(), -1).max())
    assert C.mean_max_probability(clf, x) == pytest.approx(p_max, abs=1e-6)
    assert clf.accuracy(x, torch.full((10,), 2)) == 1.0


def test_helpers_equal_brute_force_on_trained_model(smoke_clf, digits):
    x, y = digits.x_test, digits.y_test
    logits = smoke_clf.logits(x).double()
    pred = logits.argmax(-1)
    assert smoke_clf.accuracy(x, y) == pytest.approx(float((pred == y).double().mean()), abs=1e-12)
    counts = [int((pred == k).sum()) for k in range(10)]
    assert C.class_histogram(smoke_clf, x).tolist() == counts and sum(counts) == len(x)
    assert C.fraction_as_requested(smoke_clf, x, y) == pytest.approx(smoke_clf.accuracy(x, y), abs=1e-12)
    mmp = float(torch.softmax(logits, -1).max(-1).values.mean())
    assert C.mean_max_probability(smoke_clf, x) == pytest.approx(mmp, abs=1e-6)


def test_caching_returns_the_stored_model(tmp_path, digits):
    a = C.load_feature_classifier("digits", smoke=True, device="cpu", progress=False, directory=tmp_path)
    b = C.load_feature_classifier("digits", smoke=True, device="cpu", progress=False, directory=tmp_path)
    assert not a.cached and b.cached and b.test_accuracy == a.test_accuracy
    assert torch.equal(a.features(digits.x_test[:5]), b.features(digits.x_test[:5]))
    assert len(list(tmp_path.glob("classifier_digits-*.pt"))) == 1
    with pytest.raises(FileNotFoundError, match="classifier"):
        C.load_feature_classifier("digits", smoke=True, device="cpu", directory=tmp_path,
                                  cfg=C.ClassifierConfig(dataset="digits", seed=1).smoke(), train=False)


def test_training_is_deterministic_and_never_sees_test_images(digits):
    cfg = C.ClassifierConfig(dataset="digits").smoke()
    x, y = digits.x_train[:300], digits.y_train[:300]
    torch.manual_seed(0)
    net_a, _ = C.train_classifier(cfg, x, y, progress=False)
    torch.manual_seed(1)
    net_b, extra = C.train_classifier(cfg, x, y, progress=False)
    for (k, va), vb in zip(net_a.state_dict().items(), net_b.state_dict().values(), strict=True):
        assert torch.equal(va, vb), k
    assert extra["test_accuracy"] is None  # no test images given: nothing is measured
    strict = C.ClassifierConfig(dataset="digits", channels=(4, 8), feature_dim=32, n_epochs=1,
                                min_accuracy=0.999)
    with pytest.raises(RuntimeError, match="min_accuracy"):
        C.train_classifier(strict, x, y, digits.x_test, digits.y_test, progress=False)


def test_pixel_conversions_and_random_shift():
    x = torch.rand(4, 1, 5, 5)
    torch.testing.assert_close(C.to_unit(C.to_signed(x)), x)
    assert float(C.to_signed(torch.zeros(1))) == -1.0 and float(C.to_signed(torch.ones(1))) == 1.0
    g = torch.Generator().manual_seed(0)
    assert torch.equal(C.random_shift(x, 0, g), x)
    img = torch.full((1, 1, 6, 6), -1.0)
    img[0, 0, 2:4, 2:4] = torch.tensor([[1.0, 2.0], [3.0, 4.0]])  # content away from the border
    shifted = C.random_shift(img.expand(50, 1, 6, 6), 2, g)
    for s in shifted:  # each one is a 2-D roll of the original by at most 2 pixels
        assert any(torch.equal(s[0], torch.roll(img[0, 0], (dy, dx), (0, 1)))
                   for dy in range(-2, 3) for dx in range(-2, 3))
    assert len({tuple(s.flatten().tolist()) for s in shifted}) > 5


def test_bad_inputs(smoke_clf, digits):
    x = digits.x_test[:4]
    small = C.ClassifierConfig(dataset="digits").smoke()
    cases = [
        (lambda: smoke_clf.features(x.masked_fill(x > 0.5, float("nan"))), "x"),
        (lambda: smoke_clf.features(C.to_signed(x)), "x"),
        (lambda: smoke_clf.features(x[:, :63]), "x"),
        (lambda: smoke_clf.features(x.reshape(4, 8, 8)), "x"),
        (lambda: smoke_clf.features(x[:0]), "x"),
        (lambda: smoke_clf.features((x * 255).long()), "x"),
        (lambda: smoke_clf.accuracy(x, torch.zeros(3, dtype=torch.int64)), "y"),
        (lambda: C.fraction_as_requested(smoke_clf, x, torch.tensor([0, 1, 2, 10])), "requested_labels"),
        (lambda: C.fraction_as_requested(smoke_clf, x, torch.zeros(4)), "requested_labels"),
        (lambda: C.load_feature_classifier("cifar10"), "dataset"),
        (lambda: C.load_feature_classifier(cfg={"dataset": "digits"}), "cfg"),
        (lambda: C.ClassifierConfig(dataset="svhn"), "dataset"),
        (lambda: C.ClassifierConfig(max_shift=-1), "max_shift"),
        (lambda: C.ClassifierConfig(n_epochs=0), "n_epochs"),
        (lambda: C.ClassifierConfig(dropout=1.0), "dropout"),
        (lambda: C.train_classifier(small, x, torch.zeros(4)), "y_train"),
        (lambda: C.train_classifier({"dataset": "digits"}, x, torch.zeros(4, dtype=torch.int64)), "cfg"),
    ]
    for fn, name in cases:
        with pytest.raises(ValueError, match=rf"\b{name}\b"):
            fn()


@pytest.mark.parametrize("dataset", ["mnist5k", "digits"])
def test_full_size_classifier_accuracy_if_cached(dataset):
    """The full-size model's accuracy, recomputed from its weights (runs where the cache is warm)."""
    try:
        clf = C.load_feature_classifier(dataset, smoke=False, device="cpu", train=False)
    except FileNotFoundError:
        pytest.skip(f"the full-size {dataset} classifier is not cached")
    data = load_mnist5k(device="cpu") if dataset == "mnist5k" else load_digits(device="cpu")
    acc = clf.accuracy(data.x_test, data.y_test)
    assert acc >= 0.97 and acc == pytest.approx(clf.test_accuracy, abs=1e-12)
