"""The target interpreter: launch the probe inside it, or synthesise one for a cross target."""
