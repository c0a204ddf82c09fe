"""The cache files' payload checksum is zlib's CRC-32 whoever computes it (issue 10, start-up).

``payload_checksum`` runs zlib-ng's CRC-32 where it is installed (same polynomial, ~5x faster on the ~45 MB of
cache files a one-shipment check reads); the values must be zlib's, so that a file written with one is read
with the other, and damage is still caught before anything of the file is used.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import pytest

from ecscreen.parties import indexcache
from ecscreen.parties import matching as M


@pytest.mark.parametrize("size", [0, 1, 9, 4095, 4096, 65537, 1_000_003])
def test_payload_checksum_is_zlib_crc32(size: int) -> None:
    data = os.urandom(size)
    assert M.payload_checksum(data) == zlib.crc32(data)
    assert M.payload_checksum(memoryview(data)) == zlib.crc32(data)  # a mapped file is read as a memoryview


def test_fast_crc_is_zlib_ng_when_installed() -> None:
    zlib_ng = pytest.importorskip("zlib_ng.zlib_ng")
    assert indexcache.crc32 is zlib_ng.crc32


def test_damaged_payload_under_the_fast_checksum_is_never_read(tmp_path: Path) -> None:
    """A file written by write_cache_file loads; the same file with one payload bit flipped, or cut short, or
    with a byte too many, is not used (None: "not cached", the caller rebuilds)."""
    digest = "ab" * 32
    state = {"digest": digest, "rows": list(range(50_000)), "blob": indexcache.out_of_band_bytes(os.urandom(200_000))}
    path = tmp_path / f"index-{digest}.bin"
    assert M.write_cache_file(path, digest, state)
    good = path.read_bytes()
    loaded = M.read_cache_file(path, digest)
    assert loaded is not None and loaded["rows"] == state["rows"] and bytes(loaded["blob"]) == bytes(state["blob"])
    del loaded
    for pos in (M._CACHE_HEADER.size + 5, len(good) // 2, len(good) - 3):
        bad = bytearray(good)
        bad[pos] ^= 0x10
        path.write_bytes(bytes(bad))
        assert M.read_cache_file(path, digest) is None, pos
    for content in (good[:-1], good + b"\0"):
        path.write_bytes(content)
        assert M.read_cache_file(path, digest) is None
