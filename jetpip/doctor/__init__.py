"""``jetpip doctor``: the probe run in the target, and the checks that judge its facts."""
