"""Records that cross stages: the Target, sources and routes, file links and display-safe URLs."""
