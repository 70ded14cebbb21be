"""Lowering: the checked AST to runtime.kernel.program's Program (names to
slots, control flow to jumps), and load.py, which chains parse, check and
lower for a file. Imports dsl.syntax, dsl.check and runtime.kernel.
"""
