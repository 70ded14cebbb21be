"""The modelled kernel: state, step, and the kmap subsystem. Imports nothing from dsl."""
