"""The shared feature classifiers (sample-quality metrics), as :class:`ppl_models.checkpoint.Recipe` objects.

:func:`ppl_models.classifier.load_feature_classifier` caches them under ``classifier_<dataset>``;
these recipes build the same name, config, data and version, so ``python -m ppl_models.train
classifier_mnist5k`` fills the entry every chapter's ``load_feature_classifier()`` loads.
``overrides`` (bare :class:`~ppl_models.classifier.ClassifierConfig` field names) change the
config and so the key.
"""

from __future__ import annotations

from .. import checkpoint, config
from .. import classifier as clf
from ..train.registry import override

__all__ = ["classifier_mnist5k", "classifier_digits"]


def _recipe(dataset: str, smoke: bool, overrides) -> checkpoint.Recipe:
    cfg = clf.ClassifierConfig.for_dataset(dataset)
    cfg = override(cfg.smoke() if smoke else cfg, overrides)
    split = clf._load_split(cfg.dataset)

    def train_fn():
        dev = config.get_device()
        net, extra = clf.train_classifier(
            cfg, split.x_train.to(dev), split.y_train.to(dev), split.x_test.to(dev), split.y_test.to(dev)
        )
        return net.state_dict(), extra

    return checkpoint.Recipe(
        f"classifier_{cfg.dataset}",
        checkpoint.config_dict(cfg),
        train_fn,
        (split.x_train, split.y_train),
        clf.CLASSIFIER_VERSION,
        lambda: clf.ConvClassifier(10, cfg.channels, cfg.feature_dim, cfg.dropout, seed=None),
    )


def classifier_mnist5k(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """The MNIST-5k feature classifier behind every chapter's Frechet distance and precision/recall."""
    return _recipe("mnist5k", smoke, overrides)


def classifier_digits(smoke: bool, overrides: dict | None = None) -> checkpoint.Recipe:
    """The 8x8 digits feature classifier (chapter 05's image EBM)."""
    return _recipe("digits", smoke, overrides)
