"""Source text to AST: decoding, the LALR parse (the grammar package's
kmap.lark, read as data), error recovery and messages, the AST nodes, and
the language's single list of keywords and built-ins (names.py). Imports
nothing else of ours.
"""
