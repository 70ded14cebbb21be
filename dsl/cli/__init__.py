"""The `kmap` command (main.py) and its subcommands: run, check (whole
search or --random), repl, lint, examples. The top of the import graph:
it may import anything in dsl/ and runtime/; nothing imports it.
"""
