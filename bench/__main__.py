"""``python -m bench [--quick]``: see bench/run.py and docs/performance.md."""

import sys

from bench.run import main

sys.exit(main())
