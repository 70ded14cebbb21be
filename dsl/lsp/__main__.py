"""`python -m kmap_scenarios.dsl.lsp`: the language server on stdio."""

import sys

from kmap_scenarios.dsl.lsp.server import main

sys.exit(main())
