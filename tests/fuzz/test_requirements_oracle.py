"""Requirements files, against pip's own parser (pip._internal.req.req_file, in the test venv).

Files are written from requirement lines (names, extras, specifiers, markers) with what pip's
syntax allows round them: comments on their own lines and after a requirement, lines continued
with a backslash (comments included), ${VAR} from the environment, --hash in both spellings,
option lines, blank lines, CRLF. jetpip must read the requirements pip reads, in order, with the
same hashes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement

from jetpip.resolve.requirements import read_requirement_files

pip_req_file = pytest.importorskip("pip._internal.req.req_file")
pip_session = pytest.importorskip("pip._internal.network.session")

ENV = {"DEMO_VERSION": "1.2", "DEMO_EXTRA": "cuda"}

_names = st.sampled_from(["numpy", "Demo_Pkg", "torch", "onnxruntime-gpu", "a.b"])
_specifiers = st.sampled_from(["", ">=1.0", "==2.1.*", "<3,>=1.21", " ~= 1.4", "!=1.5", "==${DEMO_VERSION}"])
_extras = st.sampled_from(["", "[cuda]", "[a,b]", "[ ${DEMO_EXTRA} ]"])
_markers = st.sampled_from(["", ' ; python_version >= "3.8"', "; sys_platform == 'linux'",
                            ' ; platform_machine == "aarch64" and python_version < "4"'])
_hex = st.text("0123456789abcdefABCDEF", min_size=4, max_size=8)
_hashes = st.lists(st.tuples(st.sampled_from(["sha256", "sha512"]), _hex, st.sampled_from(["=", " "])),
                   max_size=2)
_comment = st.sampled_from(["# a comment", "#", "#no space", "# --hash=sha256:00 is not read"])
_option_line = st.sampled_from(["--index-url https://idx.example/simple", "-f ./wheels",
                                "--extra-index-url=https://more.example/simple", "--prefer-binary",
                                "--only-binary :all:", "-i https://idx.example/simple"])


@st.composite
def requirement_line(draw: st.DrawFn) -> list[str]:
    """One requirement as physical lines (continued with '\\' at times)."""
    words = [draw(_names) + draw(_extras) + draw(_specifiers) + draw(_markers)]
    words += [f"--hash{sep}{algo}:{digest}" for algo, digest, sep in draw(_hashes)]
    if draw(st.booleans()):
        words.append(draw(_comment))
    if len(words) > 1 and draw(st.booleans()):  # continued: the break falls between words
        cut = draw(st.integers(1, len(words) - 1))
        if not words[cut - 1].startswith("#"):
            return [" ".join(words[:cut]) + " \\", "    " + " ".join(words[cut:])]
    return [" ".join(words)]


@st.composite
def requirement_files(draw: st.DrawFn) -> str:
    lines: list[str] = []
    for kind in draw(st.lists(st.sampled_from(["req", "req", "comment", "blank", "option"]), max_size=8)):
        if kind == "req":
            lines += draw(requirement_line())
        elif kind == "comment":
            lines.append(draw(st.sampled_from(["", "  "])) + draw(_comment))
        elif kind == "option":
            lines.append(draw(_option_line))
        else:
            lines.append(draw(st.sampled_from(["", "   "])))
    return draw(st.sampled_from(["\n", "\r\n"])).join(lines) + "\n"


def _normal(text: str) -> str:
    return str(Requirement(text))


def pip_reads(path: Path) -> list[tuple[str, list[str]]]:
    """What pip reads from the file: each requirement (normalized) and its hashes."""
    session = pip_session.PipSession()
    try:
        read = pip_req_file.parse_requirements(str(path), session=session)
        return [(_normal(r.requirement),
                 sorted(f"{a}:{d.lower()}" for a, ds in r.options.get("hashes", {}).items() for d in ds))
                for r in read]
    finally:
        session.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(requirement_files())
def test_requirement_files_read_as_pip_reads_them(tmp_path: Path, text: str) -> None:
    """150 files: comments, continuations, ${VAR}, --hash spellings, option lines, CRLF."""
    path = tmp_path / "requirements.txt"
    path.write_bytes(text.encode())
    with pytest.MonkeyPatch.context() as patch:
        for key, value in ENV.items():
            patch.setenv(key, value)  # pip reads ${VAR} from the process environment
        expected = pip_reads(path)
    inputs = read_requirement_files([path], env=ENV)
    got = [(_normal(r) if isinstance(r, str) else _normal(r.text), sorted(r.hashes) if not isinstance(r, str)
            else []) for r in inputs.requirements]
    assert got == expected
