"""Installing: the plan of every installer step, the driver that runs it, and the checks after it."""
