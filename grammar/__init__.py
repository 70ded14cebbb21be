"""The kmap grammar, shipped as package data (kmap.lark)."""
