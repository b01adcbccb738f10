"""The option groups commands share, each parsed into one frozen record: the Target's and the index's."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:  # annotations only: the core loads after the probe has started
    from jetpip.api import IndexFlags
    from jetpip.index.client import IndexClient
    from jetpip.index.config import FileSettings
    from jetpip.install.engines import EngineName
    from jetpip.knowledge.base import KnowledgeBase
    from jetpip.model.sources import Route
    from jetpip.model.target import Interpreter, Target, TargetOverrides
    from jetpip.report import Reporter

Command = Callable[..., Any]


@dataclass(frozen=True)
class TargetOptions:
    """What ``@target_options`` parsed: where the device facts come from, the interpreter, the overrides."""

    root: str = "/"
    python: str | None = None
    jetpack: str | None = None
    l4t: str | None = None
    cuda: str | None = None
    soc: str | None = None
    compute_capability: str | None = None
    arch_kind: str | None = None
    python_version: str | None = None
    platform: str | None = None
    glibc: str | None = None
    indexes_file: str | None = None

    def overrides(self) -> TargetOverrides:
        """The facts given by hand, which win over what is detected."""
        from jetpip.model.target import TargetOverrides

        return TargetOverrides(
            jetpack=self.jetpack, l4t=self.l4t, cuda=self.cuda, soc=self.soc,
            compute_capability=self.compute_capability, arch_kind=self.arch_kind,
            python_version=self.python_version, platform=self.platform, glibc=self.glibc,
        )

    def load(self) -> tuple[KnowledgeBase, Target, Route]:
        """The knowledge base, the Target and its Route."""
        import os

        from jetpip.interpreter.probe import start_probe

        overrides = self.overrides()
        # A cross Target has no interpreter to probe. Otherwise the probe starts before the rest
        # of jetpip and the knowledge base load, and runs in its own process meanwhile.
        probe = None if overrides.is_cross else start_probe(self.python, os.environ)
        from jetpip.api import load_target

        return load_target(root=self.root, python=self.python, overrides=overrides,
                           indexes_file=self.indexes_file, probe=probe)


@dataclass(frozen=True)
class IndexOptions:
    """What ``@index_options`` parsed: pip's own index flags, which win over pip's configuration."""

    index_url: str | None = None
    extra_index_url: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    trusted_host: tuple[str, ...] = ()
    cert: str | None = None
    client_cert: str | None = None
    timeout: float | None = None
    retries: int | None = None
    offline: bool = False
    refresh: bool = False
    no_binary: tuple[str, ...] = ()
    only_binary: tuple[str, ...] = ()
    prefer_binary: bool = False
    no_build: bool = False
    pre: bool = False

    def flags(self, *, no_index: bool = False) -> IndexFlags:
        """The pip-like settings, as ``api.index_client`` reads them."""
        return {
            "index_url": self.index_url, "extra_index_url": self.extra_index_url,
            "find_links": self.find_links, "trusted_host": self.trusted_host, "cert": self.cert,
            "client_cert": self.client_cert, "timeout": self.timeout, "retries": self.retries,
            "no_index": no_index, "no_binary": self.no_binary, "only_binary": self.only_binary,
            "prefer_binary": self.prefer_binary, "no_build": self.no_build, "pre": self.pre,
        }

    def client(self, interpreter: Interpreter | None, reporter: Reporter, *,
               no_index: bool = False, files: FileSettings | None = None) -> IndexClient:
        """An IndexClient over the target's pip configuration with these flags on top.

        ``interpreter`` supplies pip's own default index (None: pip's default); ``no_index``
        reads no index at all, only the trust and TLS settings apply; ``files``: what the
        requirements files add, applied after the flags as pip does.
        """
        from jetpip.api import index_client
        from jetpip.cli import heap

        client = index_client(interpreter, self.flags(no_index=no_index), reporter=reporter,
                              offline=self.offline, refresh=self.refresh, files=files)
        heap.settle()  # the Target and the client are loaded; the pages come next
        return client


@dataclass(frozen=True)
class EngineOptions:
    """What ``@engine_options`` parsed: which installer runs the steps, and whether it writes bytecode."""

    installer: EngineName | None = None  # None: uv where it runs, else the target's pip
    compile_bytecode: bool = False


_TARGET_OPTIONS = (
    click.option("--root", type=click.Path(file_okay=False), default="/", show_default=True,
                 help="Read device facts from this root directory."),
    click.option("--python", "python", default=None,
                 help="Target interpreter (default: active venv, else python3 on PATH)."),
    click.option("--jetpack", default=None, help="Override the JetPack version, e.g. 6.2."),
    click.option("--l4t", default=None, help="Override the L4T release, e.g. 36.4.3."),
    click.option("--cuda", default=None, help="Override the CUDA version, e.g. 12.6."),
    click.option("--soc", default=None, help="Override the SoC, e.g. tegra234."),
    click.option("--compute-capability", default=None, help="Override the compute capability, e.g. 8.7."),
    click.option("--arch-kind", type=click.Choice(["tegra", "sbsa"]), default=None,
                 help="Override Tegra or SBSA."),
    click.option("--python-version", default=None,
                 help="Lock for this Python (e.g. 3.10) instead of probing an interpreter."),
    click.option("--platform", default=None,
                 help="Lock for this platform tag (e.g. linux_aarch64) instead of probing."),
    click.option("--glibc", default=None, help="glibc of a cross target (default: JetPack table)."),
    click.option("--indexes", "indexes_file", type=click.Path(dir_okay=False), default=None,
                 help="An indexes.toml layered over the built-in one (also JETPIP_INDEXES)."),
)

_INDEX_OPTIONS = (
    click.option("--index-url", "-i", default=None, help="Base index (default: target's pip config)."),
    click.option("--extra-index-url", multiple=True, help="Extra index, after the base one."),
    click.option("--find-links", "-f", multiple=True, help="A flat link page or a directory of wheels."),
    click.option("--trusted-host", multiple=True, help="Host whose files may lack hashes / bad TLS."),
    click.option("--cert", default=None, help="CA bundle for TLS (default: the system trust store)."),
    click.option("--client-cert", default=None, help="Client certificate (PEM with key)."),
    click.option("--timeout", "--default-timeout", type=float, default=None,
                 help="Per-request timeout in seconds (pip's --timeout)."),
    click.option("--retries", type=int, default=None, help="Retries for 5xx and timeouts."),
    click.option("--offline", is_flag=True, help="Use only the cache; say what is missing."),
    click.option("--refresh", is_flag=True,
                 help="Revalidate every cached page; an index that cannot be reached is an error, "
                      "not a cached copy."),
    click.option("--no-binary", multiple=True, metavar="NAMES",
                 help="Take these projects (comma-separated, :all:, :none:) as sdists only, as pip does."),
    click.option("--only-binary", multiple=True, metavar="NAMES",
                 help="Take these projects (comma-separated, :all:, :none:) as wheels only, as pip does."),
    click.option("--prefer-binary", is_flag=True, help="Take an older wheel over a newer sdist."),
    click.option("--pre", is_flag=True, help="Take pre-releases as final releases are taken, as pip does."),
    click.option("--no-build", is_flag=True, help="Never take an sdist (--only-binary :all:, and no "
                                                  "requirements-file line undoes it)."),
)


_ENGINE_OPTIONS = (
    click.option("--installer", type=click.Choice(["uv", "pip"]), default=None,
                 help="The installer that puts the fetched files in place (default: uv, or the "
                      "target's pip where uv cannot run)."),
    click.option("--compile-bytecode", is_flag=True,
                 help="Write .pyc files at install time (slower install, faster first import)."),
)


editable_option = click.option(
    "-e", "--editable", "editables", multiple=True, metavar="PATH",
    help="A local project folder, installed in editable mode (PEP 660), as pip's -e (repeatable).")


strict_versions_option = click.option(
    "--strict-versions", is_flag=True,
    help="Fail when a requested package would be locked more than one major release below its newest "
         "release for the Target (default: a warning that names the cause).")


def target_options(func: Command) -> Command:
    """The options that choose the Target; the command gets them as one ``options: TargetOptions``."""
    return _grouped(func, TargetOptions, "options", _TARGET_OPTIONS)


def index_options(func: Command) -> Command:
    """The index options, as pip's; the command gets them as one ``index: IndexOptions``."""
    return _grouped(func, IndexOptions, "index", _INDEX_OPTIONS)


def engine_options(func: Command) -> Command:
    """--installer and --compile-bytecode; the command gets them as one ``engine: EngineOptions``."""
    return _grouped(func, EngineOptions, "engine", _ENGINE_OPTIONS)


def _grouped(func: Command, record: type[TargetOptions | IndexOptions | EngineOptions], keyword: str,
             options: tuple[Callable[[Command], Command], ...]) -> Command:
    """``func`` with ``options`` added, called with their values gathered into one ``record``."""
    names = [f.name for f in dataclasses.fields(record)]

    @functools.wraps(func)
    def command(*args: Any, **kwargs: Any) -> Any:
        values = {name: kwargs.pop(name) for name in names}
        return func(*args, **{keyword: record(**values)}, **kwargs)

    decorated: Command = command
    for option in reversed(options):
        decorated = option(decorated)
    return decorated
