"""`kmap repl`: a session of immutable snapshots, typed statements run as a
`repl` task, with completion and highlighting. Imports dsl.syntax,
dsl.lower, dsl.formats, dsl.editors and runtime.
"""
