"""The `kmap` command's exit statuses and its usage error, for the
command's modules (dsl/cli/main.py and the commands it dispatches to).

Exit status (docs/language.md, BSD sysexits): 0 every expectation holds, 1 an
expectation fails, 2 usage error, 3 none fails but one is unproven, 65
invalid input, 70 an internal error.
"""

EX_OK, EX_FAIL, EX_USAGE, EX_DATAERR, EX_SOFTWARE = 0, 1, 2, 65, 70


class Usage(Exception):
    """A command-line mistake: exit status 2."""
