"""The corpus of real projects' requirements: its cases, its targets, the stand-in CUDA builds, the record."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from tests.support.wheels import WheelSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

ROOT = Path(__file__).resolve().parent.parent.parent
CORPUS = ROOT / "tests" / "corpus"
CASES = CORPUS / "cases.toml"
DATA = CORPUS / "data"
PROJECTS = DATA / "projects"
EXPECTED = DATA / "expected.json"
ROOTS = ROOT / "tests" / "fixtures" / "roots"
# The newest versions a recorded page keeps, beside every version whose metadata was read.
KEEP_VERSIONS = 25


@dataclass(frozen=True)
class Case:
    """One user's requirements file."""

    name: str
    about: str
    requirements: str
    needs: tuple[str, ...] = ()  # "sdist", "preferred": what the case waits on when it cannot lock yet

    @property
    def lines(self) -> list[str]:
        return [line.strip() for line in self.requirements.splitlines() if line.strip()]


def load_cases() -> list[Case]:
    data = tomllib.loads(CASES.read_text(encoding="utf-8"))
    return [Case(c["name"], c["about"], c["requirements"], tuple(c.get("needs", ()))) for c in data["case"]]


@dataclass(frozen=True)
class CorpusTarget:
    """A JetPack line the corpus is locked for, and where its Jetson index is served."""

    key: str
    root: Path  # a device fixture
    python: str
    glibc: str
    route: str
    jetson_source: str  # the route's Jetson source, served by the stand-in index
    jetson_prefix: str  # its path on the loopback server (devpi layout)
    others: dict[str, str]  # other sources of the route -> "flat" | "simple"; served empty
    uv_platform: str  # uv's --python-platform for the same machine
    stand_ins: tuple[WheelSpec, ...] = field(default=(), compare=False)

    @property
    def python_tag(self) -> str:
        return "cp" + self.python.replace(".", "")

    @property
    def wheel_tag(self) -> str:
        return f"{self.python_tag}-{self.python_tag}-linux_aarch64"


def _stand_ins(torch: str, vision: str, audio: str, ort: str, cv: str, vllm: str) -> tuple[WheelSpec, ...]:
    """The CUDA builds a Jetson index carries: the real projects' Requires-Dist, no binaries."""
    pin = [f"torch=={torch}"]
    return (
        WheelSpec("torch", torch, build="jetson", requires_python=">=3.9", requires=[
            "filelock", "typing-extensions>=4.10.0", "setuptools; python_version >= '3.12'", "sympy>=1.13.3",
            "networkx", "jinja2", "fsspec"]),
        WheelSpec("torchvision", vision, build="jetson", requires_python=">=3.9",
                  requires=["numpy", *pin, "pillow!=8.3.*,>=5.3.0"]),
        WheelSpec("torchaudio", audio, build="jetson", requires_python=">=3.9", requires=pin),
        WheelSpec("onnxruntime-gpu", ort, build="jetson", module="onnxruntime", requires=[
            "coloredlogs", "flatbuffers", "numpy>=1.21.6", "packaging", "protobuf", "sympy"]),
        WheelSpec("opencv-contrib-python", cv, build="jetson", module="cv2", requires_python=">=3.7",
                  requires=["numpy>=1.21.2"]),
        WheelSpec("vllm", vllm, build="jetson", requires_python=">=3.9,<3.14", requires=[
            "regex", "cachetools", "psutil", "sentencepiece", "numpy", "requests>=2.26.0", "tqdm",
            "blake3", "py-cpuinfo", "transformers>=4.55.2", "tokenizers>=0.21.1", "protobuf",
            "fastapi[standard]>=0.115.0", "aiohttp", "openai>=1.99.1", "pydantic>=2.11.7",
            "prometheus-client>=0.18.0", "pillow", "tiktoken>=0.6.0", "diskcache==5.6.3", "lark==1.2.2",
            "typing-extensions>=4.10", "filelock>=3.16.1", "pyzmq>=25.0.0", "msgspec", "gguf>=0.13.0",
            "pyyaml", "einops", "cloudpickle", "watchfiles", "scipy", "ninja", *pin,
            f"torchvision=={vision}", f"torchaudio=={audio}"]),
    )


def _tagged(specs: tuple[WheelSpec, ...], tag: str) -> tuple[WheelSpec, ...]:
    for spec in specs:
        spec.tag = tag
    return specs


TARGETS = {
    "jp62": CorpusTarget(
        "jp62", ROOTS / "jp62-agx-orin-r36.4.3", "3.10", "2.35", "jp6-cu126", "jal-jp6-cu126", "/jp6/cu126",
        {"nv-jp-v61": "flat"}, "aarch64-manylinux_2_35",
        _tagged(_stand_ins("2.8.0", "0.23.0", "2.8.0", "1.23.0", "4.11.0", "0.10.2"),
                "cp310-cp310-linux_aarch64"),
    ),
    "jp70": CorpusTarget(
        "jp70", ROOTS / "jp70-thor-r38.2", "3.12", "2.39", "jp7-cu130", "jal-sbsa-cu130", "/sbsa/cu130",
        {"pytorch-cu130": "simple"}, "aarch64-manylinux_2_39",
        _tagged(_stand_ins("2.9.0", "0.24.0", "2.9.0", "1.23.0", "4.12.0", "0.11.0"),
                "cp312-cp312-linux_aarch64"),
    ),
}


def carried(target: CorpusTarget) -> dict[str, str]:
    """The names the stand-in Jetson index carries, with their versions."""
    return {canonicalize_name(s.name): s.version for s in target.stand_ins}


# -- the record ----------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One file of a recorded project page."""

    filename: str
    sha256: str
    requires_python: str | None
    yanked: str | None  # None: not yanked
    pep658: bool  # the real page offers its metadata file (served where the record holds it)

    def to_list(self) -> list[str | bool | None]:
        return [self.filename, self.sha256, self.requires_python, self.yanked, self.pep658]


@dataclass
class Project:
    """A recorded page and the metadata files read from it (long description bodies removed)."""

    name: str
    rows: list[Row]
    metadata: dict[str, str] = field(default_factory=dict)  # filename -> METADATA (PKG-INFO of an sdist)
    # sdist filename -> the METADATA its build backend prepared, where PKG-INFO is not static (PEP 643)
    # and no wheel of its version was read
    built: dict[str, str] = field(default_factory=dict)

    def build_result(self, filename: str) -> str | None:
        """What building the sdist ``filename`` gives: its PKG-INFO when static, else the prepared
        metadata, else the METADATA of a wheel of the same version (one version, one metadata)."""
        pkg_info = self.metadata.get(filename)
        if pkg_info is None or is_static(pkg_info):
            return pkg_info
        if filename in self.built:
            return self.built[filename]
        version = file_version(filename)
        return next((text for name, text in sorted(self.metadata.items())
                     if name.endswith(".whl") and file_version(name) == version), None)

    def to_json(self) -> str:
        """One file row a line, then the metadata: small diffs when a page is recorded again."""
        rows = ",\n".join(json.dumps(r.to_list()) for r in self.rows)
        meta = json.dumps(self.metadata, indent=0, sort_keys=True)
        built = json.dumps(self.built, indent=0, sort_keys=True)
        return (f'{{"name": {json.dumps(self.name)},\n"files": [\n{rows}\n],\n"metadata": {meta},\n'
                f'"built": {built}}}\n')

    @classmethod
    def from_json(cls, text: str) -> Project:
        doc = json.loads(text)
        return cls(doc["name"], [Row(*r) for r in doc["files"]], dict(doc["metadata"]),
                   dict(doc.get("built", {})))


def load_projects(root: Path = PROJECTS) -> dict[str, Project]:
    return {p.stem: Project.from_json(p.read_text(encoding="utf-8")) for p in sorted(root.glob("*.json"))}


def load_expected(path: Path = EXPECTED) -> dict[str, dict[str, dict[str, str]]]:
    """case -> target -> {name: version}: what the recorder's resolution chose."""
    data: dict[str, dict[str, dict[str, str]]] = json.loads(path.read_text(encoding="utf-8"))["cases"]
    return data


def file_version(filename: str) -> Version | None:
    """The version in a wheel or sdist filename; None for names no resolver reads."""
    from packaging.utils import parse_sdist_filename, parse_wheel_filename

    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1]
        return parse_sdist_filename(filename)[1]
    except (ValueError, InvalidVersion):
        return None


def is_static(metadata: str) -> bool:
    """PEP 643: a PKG-INFO of Metadata-Version 2.2 or later fixes every field it does not call Dynamic."""
    head = metadata.split("\n\n", 1)[0].splitlines()
    version = next((line.split(":", 1)[1].strip() for line in head
                    if line.lower().startswith("metadata-version:")), "1.0")
    dynamic = {line.split(":", 1)[1].strip().lower() for line in head if line.lower().startswith("dynamic:")}
    try:
        recent = Version(version) >= Version("2.2")
    except InvalidVersion:
        return False
    return recent and not dynamic & {"requires-dist", "requires-python", "provides-extra"}


def strip_metadata(raw: bytes) -> str:
    """A METADATA or PKG-INFO without its long description: the body and the Description field go."""
    text = raw.decode("utf-8", "replace").replace("\r\n", "\n")
    head = text.split("\n\n", 1)[0]
    out: list[str] = []
    skipping = False
    for line in head.split("\n"):
        if skipping and line[:1] in (" ", "\t"):
            continue
        skipping = line.lower().startswith("description:")
        if not skipping:
            out.append(line)
    return "\n".join(out) + "\n\n"
