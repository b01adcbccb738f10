"""The corpus: real projects' requirements, locked from a record of their real pages."""
