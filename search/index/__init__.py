"""The index on disk: the schema, the manifest, the directory and its files,
how segments are written (the codec, the posting format, the posting arrays)
and, in one module, everything that depends on Whoosh's private internals."""
