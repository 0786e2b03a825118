"""``python -m spawnzoo.cli``: the ``spawnzoo`` command."""

import sys

from spawnzoo.cli import main

sys.exit(main())
