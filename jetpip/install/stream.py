"""A child process run to completion: its output kept line by line, and echoed with passwords masked."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping, Sequence

from jetpip.model.urls import redact_text


def stream(argv: Sequence[str], *, env: Mapping[str, str], keep: list[str], cwd: str | None = None,
           echo: Callable[[str], None] | None = None) -> int:
    """Run ``argv``, appending each output line (stderr merged) to ``keep``; return its exit status.

    ``echo`` sees each line as it arrives (for -v), its passwords masked. An interrupt, Ctrl-C
    included, stops the child before it propagates.
    """
    with subprocess.Popen(list(argv), cwd=cwd, env=dict(env), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, encoding="utf-8", errors="replace") as proc:
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                keep.append(line)
                if echo is not None:
                    echo(redact_text(line.rstrip("\n")))
            proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    return proc.returncode
