"""Parsers fuzzed against the libraries they stand in for."""
