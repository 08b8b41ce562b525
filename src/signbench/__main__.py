"""``python -m signbench`` is the ``signbench`` command."""

import sys

from signbench.cli import main

sys.exit(main())
