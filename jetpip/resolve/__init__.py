"""Resolving: requirement inputs, the finder, the look-ahead, the resolvelib provider and its result."""
