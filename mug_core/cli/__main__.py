"""``python -m mug_core.cli`` is the ``mug`` command."""

import sys

from mug_core.cli.main import main

sys.exit(main())
