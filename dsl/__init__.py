"""kmap-scenarios front end: parser, checks, lowering, CLI and tools."""
