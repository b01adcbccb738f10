"""/etc/nv_tegra_release, against a reader of its documented layout.

No library reads this file, so the oracle is a second reader written from the layout NVIDIA ships,
the other way round from the parser: split the first line that reads as a release on its commas
into ``KEY: value`` fields (no space before the colon, as written). Files are written with the
fields NVIDIA writes, in its spacing and in others, with lines before and after; then the same
lines with characters put in anywhere.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from jetpip.device.parsers import TegraRelease, parse_nv_tegra_release


def oracle(text: str) -> TegraRelease | None:
    """The release line's major, REVISION and BOARD, read field by field."""
    for line in text.splitlines():
        m = re.match(r"#\s*R(\d{1,4})\s*\([^)]*\)\s*,(.*)", line.strip())
        if m is None:
            continue
        fields = [part.partition(":") for part in m[2].split(",")]
        if not fields or fields[0][0].lstrip() != "REVISION" or not fields[0][1]:
            continue
        revision = fields[0][2].strip()
        if not re.fullmatch(r"\d{1,4}(\.\d{1,4}){0,3}", revision):
            continue
        # BOARD is for display: the name's leading run of [A-Za-z0-9_.+-], if any.
        boards = [re.match(r"[\w.+-]*", value.strip(), re.ASCII)[0]  # type: ignore[index]
                  for key, sep, value in fields if sep and key.lstrip() == "BOARD"]
        return TegraRelease(int(m[1]), revision, boards[0] if boards and boards[0] else None)
    return None


_spaces = st.sampled_from(["", " ", "  ", "\t"])
_revision = st.lists(st.integers(0, 9999).map(str), min_size=1, max_size=4).map(".".join)
_board = st.from_regex(r"[A-Za-z0-9_.+-]{1,12}", fullmatch=True)
_other_line = st.sampled_from([
    "# KERNEL_VARIANT: oot", "TARGET_USERSPACE_LIB_DIR=nvidia", "", "# R36 is the release",
    "TARGET_USERSPACE_LIB_DIR_PATH=usr/lib/aarch64-linux-gnu/nvidia", "#", "# (release)",
])


@st.composite
def release_files(draw: st.DrawFn) -> tuple[str, TegraRelease]:
    """A file as NVIDIA writes it (with other spacing at times), and what its release line says."""
    major, revision = draw(st.integers(0, 9999)), draw(_revision)
    board = draw(st.none() | _board)
    sp = draw(_spaces)
    fields = [f"REVISION:{sp or ' '}{revision}", f"GCID:{sp}{draw(st.integers(0, 10**8))}"]
    if board is not None:
        fields.append(f"BOARD:{sp}{board}")
    fields += draw(st.lists(st.sampled_from(["EABI: aarch64", "DATE: Wed Jan  8 01:49:37 UTC 2025"]),
                            max_size=2, unique=True))
    kind = draw(st.sampled_from(["release", "RELEASE", "rc", ""]))
    line = f"#{draw(_spaces)}R{major}{draw(_spaces)}({kind}),{sp}" + f",{sp}".join(fields)
    before, after = draw(st.lists(_other_line, max_size=3)), draw(st.lists(_other_line, max_size=3))
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    return eol.join([*before, line, *after]) + draw(st.sampled_from(["", eol])), TegraRelease(
        major, revision, board)


@settings(max_examples=300, deadline=None)
@given(release_files())
def test_files_as_written_give_their_release(case: tuple[str, TegraRelease]) -> None:
    """300 files: spacing, CRLF, missing BOARD, other lines before and after the release line."""
    text, release = case
    assert parse_nv_tegra_release(text) == oracle(text) == release


@settings(max_examples=300, deadline=None)
@given(release_files(), st.lists(st.tuples(st.floats(0, 1), st.sampled_from(
    [",", ":", " ", "(", ")", "#", "\n", "R", "x", ".", "5", "BOARD:", "REVISION:", "é"])), max_size=4))
def test_files_with_characters_put_in_read_as_the_field_reader_reads_them(
    case: tuple[str, TegraRelease], edits: list[tuple[float, str]]
) -> None:
    """300 damaged files: a release the parser finds is the one the field reader finds."""
    text = case[0]
    for where, char in edits:
        at = round(where * len(text))
        text = text[:at] + char + text[at:]
    found = parse_nv_tegra_release(text)
    assert found is None or found == oracle(text) or _revision_cut_short(text, found)


def _revision_cut_short(text: str, found: TegraRelease) -> bool:
    # The parser takes the leading version of a REVISION field ("4.3x" -> "4", "4.3 1" -> "4.3",
    # "1.2.3.4.5" -> "1.2.3.4") where the field reader takes the whole field or nothing.
    cut = rf"#\s*R{found.major}\s*\([^)]*\)\s*,\s*REVISION:\s*{re.escape(found.revision)}(?!\s*(?:,|$))"
    return any(re.match(cut, line.strip()) for line in text.splitlines())
