"""``python -m analogue.cli``: the ``analogue`` command."""

import sys

from analogue.cli import main

sys.exit(main())
