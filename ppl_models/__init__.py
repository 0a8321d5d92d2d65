"""ppl_models: the package behind the ppl-generative course.

One sub-module or sub-package per concern (``config``, ``data``, ``train``, ``checkpoint``,
``plotting``, ``diagnostics``, ``metrics``) and per model family (``mixtures``, ``ppca``,
``hmm``, ``vae``, ...). Import what you need explicitly, e.g.
``from ppl_models import config, data``.
"""

__version__ = "0.1.0"
