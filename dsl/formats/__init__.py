"""The output formats: `kmap run`'s trace and report text (run_text.py),
`kmap check`'s verdicts and its text and JSON (check_text.py). Golden
files pin them. Imports dsl.syntax, dsl.lower and runtime.
"""
