"""Source text to AST: decoding, the LALR parse (grammar/kmap.lark), error
recovery and messages, the AST nodes, and the language's single list of
keywords and built-ins (names.py). Imports the grammar package only (and
runtime.kernel.config for the config vocabulary).
"""
