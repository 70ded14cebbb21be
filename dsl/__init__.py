"""The front end of kmap-scenarios: the language, its checks and lowering,
the `kmap` command, the REPL and the editor tools.

Stages (docs/architecture.md), each a sub-package that imports only the
ones before it and runtime/:

- syntax/: source text, the grammar's parse, the AST (nodes.py) and the
  language's vocabulary (names.py);
- check/: every static problem at once, with stable codes;
- lower/: the checked AST to the Program the runtime executes (load.py
  chains parse, check and lower for a file);
- formats/: the text and JSON formats of `kmap run` and `kmap check`;
- editors/: the Pygments lexer and the editor grammars, from names.py;
- repl/: `kmap repl`;
- cli/: the `kmap` command, which dispatches to all of the above.

Nothing in runtime/ imports dsl/.
"""
