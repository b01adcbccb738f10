"""Device facts: pure parsers of the evidence files and thin readers of a root directory."""
