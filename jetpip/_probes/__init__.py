"""Stdlib-only scripts run inside the target interpreter (Python 3.6+); nothing here imports jetpip."""
