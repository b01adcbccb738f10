"""A small loopback mirror: stand-in CUDA wheels on a devpi mount, PyPI-like decoys on a simple index.

The CUDA stand-ins carry ``build="jetson"`` and the host's platform tag, so they really install
here; the base-index builds of the same names carry ``build="pypi"`` and a manylinux tag (which
pip ranks above ``linux_*``, as it does on a Jetson). ``overlay_toml`` points a JetPack route's
sources at the mirror so jetpip routes there instead of the public hosts.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.server import IndexServer
from tests.support.wheels import BuiltWheel, WheelSpec, build_wheel, host_platform_tag, host_python_tag

# The sources of the routes the tests use; each is re-pointed at the mirror by the overlay.
JP6_SOURCES = ("jal-jp6-cu126", "nv-jp-v61")
FIXTURE_ROOTS = Path(__file__).resolve().parent.parent / "fixtures" / "roots"
ORIN_JP62 = FIXTURE_ROOTS / "jp62-agx-orin-r36.4.3"


def cuda_tag() -> str:
    """The wheel tag of a CUDA stand-in: this Python, this machine, ``linux_*`` like Jetson builds."""
    py = host_python_tag()
    return f"{py}-{py}-{host_platform_tag()}"


def decoy_tag() -> str:
    """The wheel tag of a base-index build of a guarded name: manylinux, as PyPI's are."""
    py = host_python_tag()
    return f"{py}-{py}-manylinux_2_17_{platform.machine()}"


JETSON_SPECS = [
    WheelSpec("torch", "2.8.0", requires=["typing-extensions>=4.10"], build="jetson"),
    WheelSpec("torchvision", "0.23.0", requires=["torch==2.8.0", "numpy"], build="jetson"),
    WheelSpec("onnxruntime-gpu", "1.23.0", requires=["numpy>=1.21", "packaging"], build="jetson",
              module="onnxruntime"),
]

BASE_SPECS = [
    WheelSpec("torch", "2.8.0", requires=["typing-extensions>=4.10"]),
    WheelSpec("torch", "2.9.0", requires=["typing-extensions>=4.10"]),
    WheelSpec("torchvision", "0.24.0", requires=["torch==2.9.0", "numpy"]),
    WheelSpec("onnxruntime", "1.23.0", requires=["numpy>=1.21", "packaging"]),
    WheelSpec("numpy", "1.26.4", tag="py3-none-any"),
    WheelSpec("numpy", "2.1.0", tag="py3-none-any"),
    WheelSpec("typing-extensions", "4.12.2", module="typing_extensions_standin"),
    WheelSpec("packaging", "24.1", module="packaging_standin"),
    WheelSpec("tinyformers", "4.40.0", requires=["torch>=2.1", "numpy", "packaging"]),
    WheelSpec("glinerish", "1.2.0", requires=["torch>=2.0", "onnxruntime>=1.20", "tinyformers>=4"]),
    WheelSpec("pinner", "1.0", requires=["torch==2.9.0"]),
    WheelSpec("extra-thing", "0.1"),
]

_GUARDED_DECOYS = {"torch", "torchvision", "onnxruntime"}


@dataclass
class Mirror:
    """A started loopback mirror and the files it serves."""

    server: IndexServer
    jetson_url: str  # devpi index root, e.g. http://127.0.0.1:PORT/jp6/cu126
    base_url: str  # simple API root, e.g. http://127.0.0.1:PORT/simple
    overlay: Path  # an indexes.toml layered over the built-in one
    wheels: dict[str, BuiltWheel] = field(default_factory=dict)  # "torch-2.8.0-jetson" -> wheel

    def wheel(self, name: str, version: str, build: str = "pypi") -> BuiltWheel:
        """The wheel built for ``name`` ``version`` (``build`` "jetson" or "pypi")."""
        return self.wheels[f"{name}-{version}-{build}"]


def build_wheels(dest: Path) -> dict[str, BuiltWheel]:
    """Build every stand-in into ``dest``: CUDA builds under jetson/, base-index builds under base/."""
    out: dict[str, BuiltWheel] = {}
    for spec in JETSON_SPECS:
        spec.tag = cuda_tag()
        out[f"{spec.name}-{spec.version}-jetson"] = build_wheel(dest / "jetson", spec)
    for spec in BASE_SPECS:
        if spec.name in _GUARDED_DECOYS:
            spec.tag = decoy_tag()
        out[f"{spec.name}-{spec.version}-pypi"] = build_wheel(dest / "base", spec)
    return out


def overlay_toml(jetson_url: str, empty_flat_url: str) -> str:
    """An indexes.toml overlay that points JetPack 6's CUDA sources at the mirror."""
    plat = host_platform_tag()
    return f"""format = 1

[sources.jal-jp6-cu126]
name = "loopback jp6/cu126"
kind = "devpi"
url = "{jetson_url}"
jetson = true
platforms = ["{plat}"]

[sources.nv-jp-v61]
name = "loopback redist jp/v61"
kind = "flat"
url = "{empty_flat_url}"
jetson = true
platforms = ["{plat}"]
"""


def start_mirror(dest: Path, server: IndexServer | None = None) -> Mirror:
    """Build the wheels under ``dest``, serve them, and write ``dest/indexes.toml``."""
    server = server or IndexServer().start()
    wheels = build_wheels(dest)
    jetson_url = server.add("devpi", "/jp6/cu126", sorted((dest / "jetson").iterdir()))
    base_url = server.add("simple", "/simple", sorted((dest / "base").iterdir()))
    flat_url = server.add("flat", "/redist/jp/v61/pytorch", [])
    overlay = dest / "indexes.toml"
    overlay.write_text(overlay_toml(jetson_url, flat_url), encoding="utf-8")
    return Mirror(server=server, jetson_url=jetson_url, base_url=base_url, overlay=overlay, wheels=wheels)
