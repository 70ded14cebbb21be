"""The pytest plugin (entry point ``pytest11``): a project's pytest collects
its ``*.kmap`` files as test items, each compared with the `// Result:`
block it carries, as `kmap test` compares it (dsl/cli/kmaptest.py);
``--kmap-update`` rewrites the blocks. Imports the command's runner
(dsl.cli) and nothing the CLI does not already import.
"""
