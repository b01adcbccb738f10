"""The lock: pylock.toml (PEP 751) written from a resolution and read back for sync."""
