"""The runtime: the modelled kernel (kernel/) and the search over its
executions (search/). Imports nothing from dsl/.
"""
