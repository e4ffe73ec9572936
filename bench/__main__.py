"""`python -m bench` (`make bench`): the performance benchmark. See bench/perf.py."""

import sys

from .perf import main

sys.exit(main())
