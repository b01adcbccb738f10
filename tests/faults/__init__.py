"""Faults injected into the commands, and survived."""
