"""The example scenarios, shipped as package data: `kmap examples` lists
them and `kmap examples --copy DIR` copies them (dsl/cli/examples.py).
No code lives here."""
