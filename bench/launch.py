"""Run one command and report its wall time and rusage as JSON (``launch.py OUT ARGV...``).

The benchmark starts every tool through this small process rather than forking the benchmark
itself: a forked child's peak RSS starts at its parent's, and the benchmark holds the mirror.
Keep this file free of imports beyond ``os``, ``sys``, ``time`` and ``json``.

``maxrss_kb`` is the largest process of the command's tree (from wait4); ``main_rss_kb`` is the
command's own process (its VmHWM, read by a small watcher every POLL seconds while it runs), so a
tool's own peak is told apart from that of the installer it starts.
"""

import json
import os
import sys
import time

POLL = 0.02


def watch(pid: int, out_fd: int) -> None:
    """In the watcher: write each new VmHWM (kB) of ``pid`` to ``out_fd`` until the process is gone."""
    best = 0
    while True:
        try:
            with open(f"/proc/{pid}/status", "rb") as f:
                line = next((x for x in f if x.startswith(b"VmHWM:")), None)
        except OSError:
            return
        if line is None:  # a zombie has no memory left to report
            return
        kb = int(line.split()[1])
        if kb > best:
            best = kb
            os.write(out_fd, b"%d\n" % kb)
        time.sleep(POLL)


def main() -> None:
    out, argv = sys.argv[1], sys.argv[2:]
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    read_fd, write_fd = os.pipe()
    watcher = os.fork()
    if watcher == 0:
        os.close(read_fd)
        try:
            watch(pid, write_fd)
        finally:
            os._exit(0)
    os.close(write_fd)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    os.waitpid(watcher, 0)
    seen = b""
    while chunk := os.read(read_fd, 4096):
        seen += chunk
    main_kb = max((int(x) for x in seen.split()), default=0)
    with open(out, "w") as f:
        json.dump(
            {
                "wall": wall,
                "cpu": usage.ru_utime + usage.ru_stime,
                "maxrss_kb": usage.ru_maxrss,
                "main_rss_kb": main_kb,
                "rc": os.waitstatus_to_exitcode(status),
            },
            f,
        )


if __name__ == "__main__":
    main()
