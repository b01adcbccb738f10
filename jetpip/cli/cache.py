"""`jetpip cache`: where jetpip's cache lives, what it holds, and emptying it."""

from __future__ import annotations

import click


@click.group("cache")
def cache() -> None:
    """Inspect or empty jetpip's cache of index pages, metadata and wheels."""


@cache.command("dir")
def cache_dir() -> None:
    """Print the cache directory (JETPIP_CACHE_DIR overrides it)."""
    from jetpip.index.cache import default_cache_dir

    click.echo(str(default_cache_dir()))


@cache.command("info")
def cache_info() -> None:
    """Show what the cache holds."""
    from jetpip.index.cache import CACHE_FORMAT, Cache, default_cache_dir

    root = default_cache_dir()
    info = Cache(root).info()
    click.echo(f"cache: {root} (format {CACHE_FORMAT})")
    for kind in ("pages", "metadata", "wheels", "other"):
        count, size = info.get(kind, (0, 0))
        click.echo(f"  {kind:<9} {count:>6} entries  {_human_size(size):>10}")
    total = sum(size for _, size in info.values())
    click.echo(f"  {'total':<9} {sum(c for c, _ in info.values()):>6} entries  {_human_size(total):>10}")


@cache.command("clean")
def cache_clean() -> None:
    """Remove everything in the cache."""
    from jetpip.index.cache import Cache, default_cache_dir

    root = default_cache_dir()
    freed = Cache(root).clean()
    click.echo(f"removed {root} ({_human_size(freed)})")


def _human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover
