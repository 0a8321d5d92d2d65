"""``python -m ppl_models.train``: see :mod:`ppl_models.train.cli`."""

import sys

from .cli import main

sys.exit(main())
