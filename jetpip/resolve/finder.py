"""Candidates per project name from the right sources for a Target, with every rejected file kept."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag
from packaging.utils import canonicalize_name
from packaging.version import Version

from jetpip.errors import WheelNameError
from jetpip.index.metadata import DistMetadata
from jetpip.index.pages import ProjectPage
from jetpip.model.links import (
    BinaryPolicy,
    FileLink,
    WheelName,
    lenient_version,
    parse_sdist_name,
    parse_wheel_name,
)
from jetpip.model.projects import TREE_SOURCE_ID
from jetpip.model.sources import Route, Source, arch_list_covers
from jetpip.model.target import Target
from jetpip.report import NullReporter, Reporter


class IndexClientLike(Protocol):
    """The part of jetpip.index.client.IndexClient the finder, resolver and look-ahead use."""

    def project_page(self, source: Source, name: str) -> ProjectPage:
        """One source's page for one project."""
        ...

    def prefetch_pages(self, pairs: Iterable[tuple[Source, str]]) -> None:
        """Fetch several pages concurrently into the client's memory."""
        ...

    def metadata(self, link: FileLink) -> DistMetadata:
        """Core metadata of one file."""
        ...

    @property
    def went_online(self) -> bool:
        """True once a request of this run went over the network (the cache could not answer)."""
        ...

    @property
    def binary(self) -> BinaryPolicy:
        """The run's --no-binary / --only-binary (pip's format control)."""
        ...


# An sdist ranks after every wheel of its version: a wheel that fits wins, as in pip.
SDIST_TAG_RANK = 1 << 30


@dataclass(frozen=True)
class Candidate:
    """One file the Target can take (a wheel that fits, or an sdist), as the resolver sees it."""

    name: str  # canonical
    version: Version
    link: FileLink
    source: Source
    guarded: bool
    tag_rank: int  # position of its best tag in the Target's tag list (an sdist: SDIST_TAG_RANK)
    build: tuple[int, str] | tuple[()] = ()
    source_rank: int = 0  # position of its source in the route (guarded names); lower is better

    @property
    def yanked(self) -> bool:
        """True when the index marks the file yanked (PEP 592)."""
        return self.link.yanked is not None

    def sort_key(self) -> tuple[int, bool, Version, int, tuple[int, str] | tuple[()]]:
        """Higher is better: earlier route source, final release, newest, most specific tag, build."""
        return (-self.source_rank, not self.version.is_prerelease, self.version, -self.tag_rank, self.build)


# -- the pre-release policy --------------------------------------------------------


def is_vendor_prerelease(version: Version) -> bool:
    """A pre-release carrying a local label: a CUDA source's build (``2.1.0a0+41361538.nv23.06``)."""
    return version.is_prerelease and version.local is not None


def version_accepts(spec: SpecifierSet, version: Version, guarded: bool) -> tuple[bool, bool]:
    """(accepted, by the pre-release policy): guarded vendor pre-releases count as their release."""
    if spec.contains(version, prereleases=True):
        return True, False
    if guarded and is_vendor_prerelease(version):
        release = Version(version.base_version)
        if spec.contains(release, prereleases=True):
            return True, True
    return False, False


def versions_within(specs: Iterable[SpecifierSet], guarded: bool) -> Callable[[Version], bool]:
    """A version filter for ``FindResult.iter_candidates``: every one of ``specs`` accepts it."""
    specs = tuple(specs)
    return lambda version: all(version_accepts(spec, version, guarded)[0] for spec in specs)


def is_exact(spec: SpecifierSet) -> bool:
    """True for a ``==X`` / ``===X`` pin (what lets a yanked file be used); ``==X.*`` is not one."""
    return any(s.operator in ("==", "===") and not s.version.endswith(".*") for s in spec)


def specifier_accepts(spec: SpecifierSet, cand: Candidate) -> tuple[bool, bool]:
    """(accepted, by the pre-release policy) for one candidate; see ``version_accepts``."""
    return version_accepts(spec, cand.version, cand.guarded)


@dataclass(frozen=True)
class Reject:
    """A file passed over, and why; errors and hints are built from these."""

    filename: str
    source: str  # the Source's label
    reason: str


class _Group:
    """The files of one version on one source, built and judged only when the resolver reaches them."""

    __slots__ = ("judged", "texts", "version")

    def __init__(self, version: Version, texts: tuple[str, ...]) -> None:
        self.version = version
        self.texts = texts  # the version texts of the page that read as this version
        self.judged: list[Candidate] | None = None  # best first, yanked ones included


class _SourceOffer:
    """One source's page for one name, its versions best first, each parsed when first reached."""

    def __init__(self, page: ProjectPage, rank: int, pre: bool = False) -> None:
        self.page = page
        self.rank = rank
        self._order = page.version_order()
        if pre:  # pip's --pre: one order, newest first, pre-releases among the final releases
            self._order = sorted(self._order, key=_version_of, reverse=True)
        self._groups: dict[int, _Group | None] = {}

    def groups(self) -> Iterator[_Group]:
        """Final releases newest first, then pre-releases (under --pre: every version, newest first)."""
        for i, texts in enumerate(self._order):
            group = self._groups.get(i, _MISSING)
            if group is _MISSING:
                try:
                    made: _Group | None = _Group(lenient_version(unquote(texts[0]), texts[0]), texts)
                except WheelNameError:
                    made = None
                group = self._groups.setdefault(i, made)  # atomic: threads agree on one group
            if group is not None:
                yield group


_MISSING: Any = object()


def _version_of(texts: tuple[str, ...]) -> Version:
    try:
        return lenient_version(unquote(texts[0]), texts[0])
    except WheelNameError:
        return Version("0")  # its files show in the rejects, with the reason


class FindResult:
    """Everything found for one name; files are judged lazily, in the order the resolver asks for them.

    ``iter_candidates`` judges only the versions it reaches. ``candidates``, ``yanked`` and
    ``rejects`` judge every file (error messages and hints need each file with its reason).
    """

    def __init__(
        self,
        finder: Finder,
        name: str,
        offers: Sequence[_SourceOffer],
        sources_searched: Sequence[Source],
        guarded: bool,
        source: Source | None = None,
    ) -> None:
        self._finder = finder
        self.name = name
        self._offers = tuple(offers)
        self.sources_searched = tuple(sources_searched)
        self.guarded = guarded
        self._first = source  # first-index: the source used; guarded: worked out from the files

    def iter_candidates(
        self, version_ok: Callable[[Version], bool] | None = None, *, include_yanked: bool = False
    ) -> Iterator[Candidate]:
        """Usable candidates best first, judging only the files of versions ``version_ok`` lets through.

        Under --prefer-binary every wheel comes before any sdist, as pip orders them.
        """
        passes: tuple[bool | None, ...] = (False, True) if self._finder.binary.prefer_binary else (None,)
        for sdists in passes:
            for offer in self._offers:
                for group in offer.groups():
                    if version_ok is not None and not version_ok(group.version):
                        continue
                    for cand in self._finder._judged(group, offer):
                        if (include_yanked or not cand.yanked) and sdists in (None, cand.link.is_sdist):
                            yield cand

    @functools.cached_property
    def _all(self) -> tuple[tuple[Candidate, ...], tuple[Candidate, ...]]:
        every = list(self.iter_candidates(include_yanked=True))
        return tuple(c for c in every if not c.yanked), tuple(c for c in every if c.yanked)

    @property
    def candidates(self) -> tuple[Candidate, ...]:
        """Every usable candidate, best first (judges every file)."""
        return self._all[0]

    @property
    def yanked(self) -> tuple[Candidate, ...]:
        """Yanked candidates, usable only when a requirement pins them exactly."""
        return self._all[1]

    @property
    def source(self) -> Source | None:
        """The (first) source the candidates come from; None when none had any."""
        if not self.guarded:
            return self._first
        return next((c.source for c in self.iter_candidates(include_yanked=True)), None)

    @functools.cached_property
    def rejects(self) -> tuple[Reject, ...]:
        """Every file passed over, with the reason, in page order (built when an error needs them)."""
        out: list[Reject] = []
        for offer in self._offers:
            page, source = offer.page, offer.page.source
            out.extend(Reject(f, source.name, why) for f, why in page.rejects)
            for link in page.files:
                why, cand = self._finder._judge(link, source, self.guarded, self.name, offer.rank)
                if cand is None:
                    out.append(Reject(link.filename, source.name, why))
                elif cand.yanked:
                    why = f"yanked{': ' + link.yanked if link.yanked else ''} (used only when pinned with ==)"
                    out.append(Reject(link.filename, source.name, why))
        return tuple(out)


def platform_ok(tags: frozenset[Tag], platforms: Sequence[str]) -> bool:
    """True when one of ``tags`` is for one of ``platforms`` (no platforms: any build will do)."""
    return not platforms or any(t.platform in platforms for t in tags)


class Finder:
    """Find candidates per name: guarded names from the route's CUDA sources, others first-index."""

    def __init__(
        self,
        client: IndexClientLike,
        route: Route,
        base_sources: Sequence[Source],
        target: Target,
        reporter: Reporter | None = None,
        *,
        binary: BinaryPolicy | None = None,
        sdist_recipe: Callable[[str], bool] | None = None,
        pre: bool = False,
    ) -> None:
        """``binary``: the run's --no-binary / --only-binary (default: the client's).

        ``pre`` is pip's --pre: pre-releases rank with final releases, by version.

        ``sdist_recipe`` says whether the knowledge base has a build recipe for a guarded name;
        without one (the default) an sdist of a guarded name is never a candidate.
        """
        self.client = client
        self.pre = pre
        self.binary = binary if binary is not None else client.binary
        self._sdist_recipe = sdist_recipe or (lambda name: False)
        self.route = route
        self.base_sources = tuple(base_sources)
        self.target = target
        self.reporter: Reporter = reporter or NullReporter()
        self._tags = {tag: i for i, tag in reversed(list(enumerate(target.tags())))}
        self._tag_texts = frozenset(str(tag) for tag in self._tags)
        self._fits: dict[str, bool] = {}  # may_fit by a filename's tag text
        # For reject reasons only; built once, not per rejected file.
        self._pythons = {(t.interpreter, t.abi) for t in self._tags}
        self._platforms = {t.platform for t in self._tags}
        self._python = _python_full_version(target)
        self._guarded = frozenset(canonicalize_name(n) for n in route.guarded)
        cc = target.compute_capability
        self._capability = cc.value if cc is not None else None
        self._lock = threading.Lock()
        self._cache: dict[str, Future[FindResult]] = {}  # one find per name, shared between threads

    def is_guarded(self, name: str) -> bool:
        """True when ``name`` must come from the route's CUDA sources only."""
        return canonicalize_name(name) in self._guarded

    def sources_for(self, name: str) -> tuple[Source, ...]:
        """The sources ``name`` may come from, in the order they are asked."""
        key = canonicalize_name(name)
        # A source that says which projects it carries (NVIDIA's torch directories) is not asked
        # for others.
        route = tuple(s for s in self.route.sources if not s.projects or key in s.projects)
        if self.is_guarded(name):
            return route
        # Route sources come last: a devpi CUDA index inherits PyPI and would answer for everything.
        seen = {s.url for s in self.base_sources}
        return self.base_sources + tuple(s for s in route if s.url not in seen)

    def prefetch(self, names: Iterable[str]) -> None:
        """Fetch the pages the next ``find`` calls will read, concurrently."""
        pairs: list[tuple[Source, str]] = []
        for raw in names:
            name = canonicalize_name(raw)
            if name in self._cache:
                continue
            sources = self.sources_for(name)
            # First-index reads only the first source unless it lacks the name; guessing more
            # would cost a page per name per source on every cold run.
            pairs.extend((s, name) for s in (sources if self.is_guarded(name) else sources[:1]))
        if pairs:
            self.client.prefetch_pages(pairs)

    def find(self, name: str) -> FindResult:
        """Candidates for ``name`` (best first) and every file passed over, with the reason."""
        key = canonicalize_name(name)
        with self._lock:
            fut = self._cache.get(key)
            mine = fut is None
            if fut is None:
                fut = self._cache[key] = Future()
        if mine:
            try:
                fut.set_result(self._find(key))
            except BaseException as err:
                fut.set_exception(err)
        return fut.result()

    def _find(self, name: str) -> FindResult:
        guarded = self.is_guarded(name)
        searched: list[Source] = []
        offers: list[_SourceOffer] = []
        for rank, source in enumerate(self.sources_for(name)):
            searched.append(source)
            page = self.client.project_page(source, name)  # the client reports the fetch
            if not page.found:
                # its unreadable files still show in rejects
                offers.append(_SourceOffer(page, rank, self.pre))
                continue
            offers.append(_SourceOffer(page, rank if guarded else 0, self.pre))
            if not guarded:
                # First-index: the first source that has the name at all is the only one used.
                return FindResult(self, name, offers, searched, guarded, source)
        return FindResult(self, name, offers, searched, guarded)

    def _judged(self, group: _Group, offer: _SourceOffer) -> list[Candidate]:
        if group.judged is None:
            source, name = offer.page.source, offer.page.name
            guarded = self.is_guarded(name)
            cands = []
            links = (link for t in group.texts for link in offer.page.links_of(t, self.may_fit))
            for link in links:
                cand = self._judge(link, source, guarded, name, offer.rank)[1]
                if cand is not None:
                    cands.append(cand)
            group.judged = sorted(cands, key=Candidate.sort_key, reverse=True)
        return group.judged

    def may_fit(self, filename: str) -> bool:
        """False when a wheel filename's tags name none of the Target's: a look at the text alone.

        A version of a big project has dozens of builds, one of which fits: the others are dropped
        before anything is built for them. Any other name is judged in full (and every file still
        shows, with its reason, when an error lists what was passed over).
        """
        parts = filename[:-4].split("-") if filename.endswith(".whl") else []
        if len(parts) not in (5, 6):
            return True
        tail = "-".join(parts[-3:])
        fits = self._fits.get(tail)  # every version of a project repeats the same few tag sets
        if fits is None:
            pythons, abis, platforms = (part.lower().split(".") for part in parts[-3:])
            texts = self._tag_texts
            fits = self._fits[tail] = any(
                f"{i}-{a}-{p}" in texts for i in pythons for a in abis for p in platforms
            )
        return fits

    def _judge(
        self, link: FileLink, source: Source, guarded: bool, name: str, rank: int
    ) -> tuple[str, Candidate | None]:
        if link.is_sdist:
            return self._judge_sdist(link, source, guarded, name, rank)
        if not link.is_wheel:
            return "neither a wheel nor a source distribution", None
        try:
            wheel: WheelName = parse_wheel_name(link.filename)
        except WheelNameError as err:
            return f"unparseable filename: {err.reason}", None
        if wheel.name != name:
            return f"belongs to project '{wheel.name}'", None
        why = self._file_reason(link, source) or self.binary.refusal(name, sdist=False)
        if why:
            return why, None
        # Checked before the tags: a PyPI build seen through a devpi index is never a candidate,
        # whatever Python it is for, and the message should say that first.
        if guarded and not platform_ok(wheel.tags, source.platforms):
            plats = ", ".join(sorted({t.platform for t in wheel.tags}))
            return (
                f"not a build for this Target: {plats} is not one of {', '.join(source.platforms)} "
                "(another index's build shown through this one)"
            ), None
        lookup = self._tags.get
        best = min((r for r in map(lookup, wheel.tags) if r is not None), default=None)
        if best is None:
            return self._tag_reason(wheel.tags), None
        if guarded and self._capability is not None:
            why = self._arch_reason(source, name, wheel.version)
            if why:
                return why, None
        return "", Candidate(name, wheel.version, link, source, guarded, best, wheel.build, rank)

    def _file_reason(self, link: FileLink, source: Source) -> str | None:
        if not link.hashes and not source.trusted:
            return "no hash, and the source is not trusted"
        if link.requires_python and not _python_ok(link.requires_python, self._python):
            return f"requires Python {link.requires_python}; the Target has {self._python}"
        return None

    def _judge_sdist(
        self, link: FileLink, source: Source, guarded: bool, name: str, rank: int
    ) -> tuple[str, Candidate | None]:
        try:
            project, version = parse_sdist_name(link.filename)
        except WheelNameError as err:
            return f"unparseable filename: {err.reason}", None
        if project != name:
            return f"belongs to project '{project}'", None
        # As pip: the binary options choose among an index's files; a named source tree is built anyway.
        policy = None if source.id == TREE_SOURCE_ID else self.binary.refusal(name, sdist=True)
        why = self._file_reason(link, source) or policy
        if why:
            return why, None
        if guarded and not self._sdist_recipe(name):
            # A plain build of a CUDA project's sdist gives a CPU-only package, and nothing would say so.
            return (f"source distribution of a guarded CUDA package: jetpip builds {name} from source only "
                    "with a knowledge-base build recipe for it, and there is none (a plain build would "
                    "be CPU-only)"), None
        return "", Candidate(name, version, link, source, guarded, SDIST_TAG_RANK, (), rank)

    def _arch_reason(self, source: Source, name: str, version: Version) -> str:
        """Why this build cannot run on the device's GPU, or "" when it can (or nothing is known)."""
        capability = self._capability
        arch, rule = source.arch_for(name, version)
        if capability is None or arch_list_covers(arch, capability):
            return ""
        what = f"{name} {rule.versions}" if rule is not None and rule.versions else name
        unconfirmed = rule is not None and rule.unconfirmed
        hedge = " (from its build recipe, not read from the wheel)" if unconfirmed else ""
        return (f"no kernels for this GPU: {source.name}'s {what} builds carry compute capability "
                f"{', '.join(arch)} only{hedge}; the Target is {capability}")

    def _tag_reason(self, tags: frozenset[Tag]) -> str:
        target_pythons, target_plats = self._pythons, self._platforms
        shown = ", ".join(sorted(str(t) for t in tags)[:3])
        if not any((t.interpreter, t.abi) in target_pythons for t in tags):
            pythons = ", ".join(sorted({t.interpreter for t in tags}))
            return f"built for another Python ({pythons}); the Target is Python {self._python} ({shown})"
        if not any(t.platform in target_plats for t in tags):
            plats = ", ".join(sorted({t.platform for t in tags}))
            return f"built for another platform ({plats}); the Target is {self.target.machine}"
        return f"wrong tag: {shown} is not supported by the Target"


def _python_full_version(target: Target) -> str:
    version = target.interpreter.version
    parts = version.split(".")
    return version if len(parts) >= 3 else ".".join([*parts, "0"][:3])


@functools.lru_cache(maxsize=1024)
def _python_ok(spec: str, python: str) -> bool:
    # Pages repeat a few Requires-Python strings across thousands of files: check each once.
    try:
        return SpecifierSet(spec).contains(python, prereleases=True)
    except InvalidSpecifier:
        # pip ignores a malformed Requires-Python; so do we, rather than hide the file.
        return True
