"""Run one command and report its wall time and rusage as JSON (``launch.py OUT ARGV...``).

The benchmark starts every tool through this small process rather than forking the benchmark
itself: a forked child's peak RSS starts at its parent's, and the benchmark holds the mirror.
Keep this file free of imports beyond ``os``, ``sys``, ``time`` and ``json``.
"""

import json
import os
import sys
import time


def main() -> None:
    out, argv = sys.argv[1], sys.argv[2:]
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    with open(out, "w") as f:
        json.dump(
            {
                "wall": wall,
                "cpu": usage.ru_utime + usage.ru_stime,
                "maxrss_kb": usage.ru_maxrss,
                "rc": os.waitstatus_to_exitcode(status),
            },
            f,
        )


if __name__ == "__main__":
    main()
