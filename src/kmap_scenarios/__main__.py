"""`python -m kmap_scenarios` is the `kmap` command."""

import sys

from kmap_scenarios.dsl.cli.main import main

sys.exit(main())
