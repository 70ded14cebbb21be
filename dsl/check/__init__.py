"""The static checker: names, types, config, usage and schedule problems of
an AST, all at once, with stable codes (E2xx-E5xx). Imports dsl.syntax and
the kernel's config (runtime.kernel.config).
"""
