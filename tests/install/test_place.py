"""``place``: a fetched file linked where the engine reads it, from several threads at once."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from jetpip.install.fetch import place


def test_threads_placing_the_same_file_at_once_all_succeed(tmp_path: Path) -> None:
    # The unpack ahead and the fetch both place a file the resolution downloaded.
    cached = tmp_path / "cache" / "pkg-1.0-py3-none-any.whl"
    cached.parent.mkdir()
    cached.write_bytes(b"wheel")
    errors: list[BaseException] = []
    together = threading.Barrier(4)

    def work() -> None:
        for i in range(200):  # each path placed by the four threads at the same moment
            together.wait()
            try:
                place(cached, tmp_path / "installs" / str(i) / cached.name)
            except OSError as err:
                errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    placed = sorted((tmp_path / "installs").rglob("*"))
    files = [p for p in placed if p.is_file()]
    assert len(files) == 200 and all(os.path.samefile(p, cached) for p in files)
    assert not [p for p in placed if p.name.endswith(".part")]
