"""The highlighting and editor tools, derived from dsl.syntax.names: the
Pygments lexer (lexer.py, the `pygments.lexers` entry point), the shared
word lists (vocab.py), and the generator of the editor grammars under the
repository's editors/ (`python -m kmap_scenarios.dsl.editors`). Imports
dsl.syntax and runtime.kernel.config.
"""
