"""`kmap fmt`: the canonical layout of a .kmap file, every comment kept.

The formatter changes whitespace only: it prints the tokens of the
concrete parse tree (dsl/syntax/parser.py's ``concrete_parser``) again,
in order and as written, with the house layout between them
(docs/formatting.md), and puts every comment back between the same two
tokens. ``format.py`` checks its own output before anyone sees it: the
same AST without positions and the same comments, else ``FormatBug``.

Imports dsl/syntax only.
"""
