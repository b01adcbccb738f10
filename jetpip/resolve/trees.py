"""Source-tree requirements (a directory, ``-e``, a git URL) read as the sdists their backends pack."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from packaging.markers import Marker

from jetpip.errors import UsageError
from jetpip.index.client import IndexClient
from jetpip.model.projects import TREE_SOURCE_ID
from jetpip.model.sources import Source
from jetpip.model.target import Target
from jetpip.model.urls import Url
from jetpip.report import Reporter
from jetpip.resolve.requirements import RequirementLine
from jetpip.resolve.resolution import marker_environment


def packed_trees(
    requirements: Sequence[str | RequirementLine], target: Target, client: IndexClient,
    reporter: Reporter | None = None, *, no_build: bool = False,
) -> tuple[list[str | RequirementLine], list[Source]]:
    """The requirements with each source tree read as ``name==version`` of the sdist it packs into.

    Each packed sdist is offered by a one-file source, to go ahead of the indexes as a direct URL
    does. A tree whose marker is false for the Target is left out unpacked, as pip leaves it out.
    ``no_build`` (jetpip's --no-build) refuses a tree before its backend runs: its metadata and its
    wheel both come from a build.
    """
    if not any(isinstance(r, RequirementLine) and r.project for r in requirements):
        return list(requirements), []
    # Only now: packing needs the build machinery (tarfile, zipfile, pypa/build), which a lock of
    # names alone never loads.
    from jetpip.index.projects import pack
    from jetpip.index.sdist import BuildIndexes

    indexes = BuildIndexes.from_config(client.config, offline=client.offline)
    env = marker_environment(target)
    out: list[str | RequirementLine] = []
    sources: list[Source] = []
    for line in requirements:
        ref = line.project if isinstance(line, RequirementLine) else None
        if not isinstance(line, RequirementLine) or ref is None:
            out.append(line)
            continue
        if ref.marker and not Marker(ref.marker).evaluate(dict(env)):
            continue
        if no_build:
            raise UsageError(f"{line.where}: --no-build, and the line names the source tree {ref.shown()}, "
                             "which only a build can read and install",
                             "drop --no-build; or build a wheel of the project (`python -m build --wheel` "
                             "in its folder) and name that file instead of the tree")
        packed = pack(ref, client.cache, indexes, where=line.where, offline=client.offline,
                      on_step=reporter.step if reporter is not None else None)
        url = packed.sdist.as_uri()
        out.append(dataclasses.replace(line, text=packed.ref.requirement_text(packed.name, packed.version),
                                       url=url, project=packed.ref))
        sources.append(Source(f"project {packed.ref.shown()}", "flat", Url(url), trusted=True,
                              id=TREE_SOURCE_ID))
    return out, sources
