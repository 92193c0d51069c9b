"""``python -m elsercheck.report RUN_DIR …``: the report command without the full CLI."""

import sys

from .command import main

sys.exit(main())
