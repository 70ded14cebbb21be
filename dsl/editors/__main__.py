"""`python -m kmap_scenarios.dsl.editors [--check]`: regenerate the editor
grammars under the repository's editors/ (see generate.py)."""

import sys

from kmap_scenarios.dsl.editors.generate import main

sys.exit(main())
