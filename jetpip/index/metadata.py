"""Core metadata of a distribution: the DistMetadata record and reading METADATA out of a wheel's zip."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from jetpip.errors import MetadataError

# How much of a wheel's tail the first range request asks for: the central directory of a
# typical wheel, and often its .dist-info files too (they are written last).
TAIL_BYTES = 64 * 1024

_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_EOCD64 = b"PK\x06\x06"
_CENTRAL = b"PK\x01\x02"
_LOCAL = b"PK\x03\x04"


@dataclass(frozen=True)
class DistMetadata:
    """The parts of core metadata (METADATA / PKG-INFO) the resolver needs."""

    name: str
    version: str
    requires_dist: tuple[str, ...] = ()
    requires_python: str | None = None
    provides_extra: tuple[str, ...] = ()

    @classmethod
    def parse(cls, data: bytes) -> DistMetadata:
        """Read core metadata bytes (email header format); raise MetadataError without Name/Version."""
        raw = header_fields(data)
        name, version = _one(raw, "name"), _one(raw, "version")
        if not name or not version:
            missing = "Name" if not name else "Version"
            raise MetadataError(
                f"the metadata has no {missing} field",
                "the file is broken or not a Python distribution; report it to its publisher",
            )
        return cls(
            name=name,
            version=version,
            requires_dist=tuple(raw.get("requires-dist", ())),
            requires_python=_one(raw, "requires-python"),
            provides_extra=tuple(raw.get("provides-extra", ())),
        )


def header_fields(data: bytes) -> dict[str, list[str]]:
    """The header fields of core metadata (RFC 822 style), by lower-case name; the body is not read."""
    text = data.decode("utf-8", errors="replace")
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    head = text.split("\n\n", 1)[0]
    fields: dict[str, list[str]] = {}
    last: list[str] | None = None
    for line in head.split("\n"):
        if line[:1] in (" ", "\t"):
            if last:
                last[-1] += line  # a folded line continues the field before it
            continue
        key, sep, value = line.partition(":")
        if not sep:
            last = None
            continue
        last = fields.setdefault(key.strip().lower(), [])
        last.append(value.strip())
    return fields


def _one(fields: dict[str, list[str]], key: str) -> str | None:
    values = fields.get(key)
    return values[0] if values else None


def metadata_from_wheel_bytes(data: bytes) -> bytes:
    """The ``*.dist-info/METADATA`` member of a whole wheel."""
    import zipfile  # only when a whole file had to be fetched

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for name in zf.namelist():
                if _is_metadata_member(name):
                    return zf.read(name)
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError) as err:
        raise MetadataError(f"the wheel is not a readable zip file ({err})") from err
    raise MetadataError("the wheel has no .dist-info/METADATA")


def _is_metadata_member(name: str) -> bool:
    top, sep, rest = name.partition("/")
    return bool(sep) and top.endswith(".dist-info") and rest == "METADATA"


RangeReader = Callable[[int, int], bytes]  # (start, end inclusive) -> exactly those bytes


@dataclass(frozen=True)
class _Member:
    offset: int
    compressed_size: int
    method: int
    name_length: int


def _central_directory(tail: bytes, tail_start: int, size: int, read: RangeReader) -> bytes:
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) - at < 22:
        raise MetadataError("no end-of-central-directory record in the wheel's tail")
    cd_size, cd_offset = struct.unpack_from("<II", tail, at + 12)
    if cd_offset == 0xFFFFFFFF or cd_size == 0xFFFFFFFF:
        # The locator sits just before the end record, which may be the first byte of the tail.
        loc = tail_start + at - 20
        locator = _slice(tail, tail_start, loc, 20, read) if loc >= 0 else b""
        if locator[:4] != _EOCD64_LOCATOR:
            raise MetadataError("zip64 wheel without its locator record")
        (eocd64_at,) = struct.unpack_from("<Q", locator, 8)
        rec = _slice(tail, tail_start, eocd64_at, 56, read)
        if rec[:4] != _EOCD64:
            raise MetadataError("broken zip64 end-of-central-directory record")
        cd_size, cd_offset = struct.unpack_from("<QQ", rec, 40)
    if cd_offset + cd_size > size:
        raise MetadataError("the central directory points past the end of the file")
    return _slice(tail, tail_start, cd_offset, cd_size, read)


def _slice(tail: bytes, tail_start: int, start: int, length: int, read: RangeReader) -> bytes:
    if start >= tail_start:
        return tail[start - tail_start : start - tail_start + length]
    return read(start, start + length - 1)


def _find_metadata(cd: bytes) -> _Member:
    pos = 0
    while pos + 46 <= len(cd) and cd[pos : pos + 4] == _CENTRAL:
        method, = struct.unpack_from("<H", cd, pos + 10)
        csize, _usize, nlen, xlen, clen = struct.unpack_from("<IIHHH", cd, pos + 20)
        (offset,) = struct.unpack_from("<I", cd, pos + 42)
        name = cd[pos + 46 : pos + 46 + nlen].decode("utf-8", errors="replace")
        if _is_metadata_member(name):
            extra = cd[pos + 46 + nlen : pos + 46 + nlen + xlen]
            csize, offset = _zip64_fields(extra, csize, _usize, offset)
            return _Member(offset, csize, method, nlen)
        pos += 46 + nlen + xlen + clen
    raise MetadataError("the wheel has no .dist-info/METADATA")


def _zip64_fields(extra: bytes, csize: int, usize: int, offset: int) -> tuple[int, int]:
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, pos)
        if tag == 1:
            fields = extra[pos + 4 : pos + 4 + length]
            values = [struct.unpack_from("<Q", fields, i)[0] for i in range(0, len(fields) - 7, 8)]
            it = iter(values)
            if usize == 0xFFFFFFFF:
                next(it, None)
            if csize == 0xFFFFFFFF:
                csize = next(it, csize)
            if offset == 0xFFFFFFFF:
                offset = next(it, offset)
        pos += 4 + length
    return csize, offset


def metadata_from_ranges(size: int, tail: bytes, read: RangeReader) -> bytes:
    """METADATA read with range requests: ``tail`` is the file's last bytes, ``read`` fetches more.

    Only the central directory and the METADATA member are read, never the whole wheel.
    """
    tail_start = size - len(tail)
    try:
        cd = _central_directory(tail, tail_start, size, read)
        member = _find_metadata(cd)
        # The local header's extra field may differ from the central one; ask for some slack.
        want = 30 + member.name_length + member.compressed_size + 1024
        local = _slice(tail, tail_start, member.offset, min(want, size - member.offset), read)
        if local[:4] != _LOCAL:
            raise MetadataError("the wheel's local file header is broken")
        nlen, xlen = struct.unpack_from("<HH", local, 26)
        start = 30 + nlen + xlen
        if start + member.compressed_size > len(local):
            more = read(member.offset + len(local), member.offset + start + member.compressed_size - 1)
            local += more
        body = local[start : start + member.compressed_size]
        if member.method == 0:
            return body
        if member.method == 8:
            return zlib.decompressobj(-15).decompress(body)
        raise MetadataError(f"METADATA uses zip compression method {member.method}")
    except (struct.error, zlib.error) as err:
        raise MetadataError(f"the wheel's zip structure is broken ({err})") from err
