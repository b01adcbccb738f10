"""The knowledge base: the indexes.toml schema, its layering, routing a Target, hints and the matrix."""
