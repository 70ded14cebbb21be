"""`python -m dsl` is the `kmap` command."""

import sys

from dsl.cli import main

sys.exit(main())
