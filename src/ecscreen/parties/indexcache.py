"""Parts of the party index cache that are read per key, not decoded whole on load.

The fuzzy indexes of the matcher (consonant skeletons, Jaro-Winkler buckets, acronyms, the sound index) are
dicts of tens of thousands of keys whose values are lists of words; a query looks up a handful of keys. In the
cache file each such dict is stored packed (:func:`pack_dict`): the keys as one marshal'd list, the values
marshal'd one by one, back to back, with their offsets, and a hash table over the keys' bytes. :class:`LazyDict`
is that dict after a load: a key is found through the table without decoding the others (decoding the ~57,000
keys and building their dict cost ~6 ms CPU of a one-shipment check), a value is decoded when its key is first
looked up (then kept). It answers
``get``, ``[]``, ``in``, ``len`` and iteration like the dict it was made from; anything that walks every
value (``items()``, ``values()``, ``==``, pickling) decodes them all first.

Only plain data (str, int, float, tuples and lists of them) is packed; :func:`pack_dict` returns None for
anything else, and the dict is then stored as it is.
"""

from __future__ import annotations

import marshal
import pickle
import sys
import zlib
from array import array
from collections.abc import Callable, ItemsView, Iterable, Iterator, KeysView, Sequence, ValuesView
from collections.abc import Set as AbstractSet
from typing import Any, overload

__all__ = ["crc32", "FlatArray", "dump_payload", "load_payload", "LazyDict", "out_of_band_packed", "PackedSet", "PackedTexts", "pack_dict", "pack_pickled", "pack_texts", "unpack_dict", "unpack_pickled",
           "unpack_texts", "PACKED", "PICKLED", "TEXTS"]

PACKED = "packed-dict-1"  # the marker of a packed dict in a cache state
PICKLED = "pickled-dict-1"  # the marker of a dict of pickled values (objects: the compiled packs snapshot)
_MISS: Any = object()
_VERSION = 2  # marshal format without back-references: the same bytes for equal values, whatever their refcounts
TABLE_LOOKUPS = 4096  # lookups through the stored table before the key -> position dict is built (a batch)


def _fast_crc32() -> Callable[[Any], int]:
    """zlib's CRC-32 computed by zlib-ng (the same polynomial, so the same values, about 5x faster: its
    PCLMUL/AVX code checks the ~45 MB of cache files a one-shipment check reads in ~2 ms CPU instead of
    ~11 ms), or zlib's own where zlib-ng is not installed (the values, hence the files, are interchangeable)."""
    try:
        from zlib_ng import zlib_ng
    except ImportError:  # pragma: no cover - zlib-ng is a dependency; a platform without its wheel falls back
        return zlib.crc32
    crc: Callable[[Any], int] = zlib_ng.crc32
    return crc if crc(b"123456789") == zlib.crc32(b"123456789") == 0xCBF43926 else zlib.crc32


crc32 = _fast_crc32()  # CRC-32 of a cache file's whole payload (ecscreen.parties.matching.payload_checksum)


def _kbytes(key: Any) -> bytes | None:
    """A key's bytes for the lookup table: equal keys (as the dict compares them: str, int, bool, tuples of
    them) give equal bytes in every process; None for another type (then the lookup builds the plain dict)."""
    t = type(key)
    if t is str:
        return b"s" + key.encode("utf-8", "surrogatepass")
    if t is int or t is bool:
        return b"i" + str(int(key)).encode()
    if t is tuple:
        parts = [b"t"]
        for e in key:
            b = _kbytes(e)
            if b is None:
                return None
            parts.append(len(b).to_bytes(4, "little") + b)
        return b"".join(parts)
    return None


def _table(keys: list[Any]) -> tuple[bytes, bytes, bytes] | None:
    """(slots, key-byte offsets, key bytes) of an open-addressing table over ``keys`` (CRC-32 of the key bytes,
    linear probing, slot = key index + 1, 0 = empty, at most half full), or None when a key has no bytes."""
    kbs = []
    for k in keys:
        b = _kbytes(k)
        if b is None:
            return None
        kbs.append(b)
    size = 8
    while size < 2 * len(keys):
        size *= 2
    slots = array("q", bytes(8 * size))
    mask = size - 1
    offs = array("q", [0])
    for i, b in enumerate(kbs):
        s = zlib.crc32(b) & mask
        while slots[s]:
            s = (s + 1) & mask
        slots[s] = i + 1
        offs.append(offs[-1] + len(b))
    return slots.tobytes(), offs.tobytes(), b"".join(kbs)


def pack_dict(d: dict[Any, Any]) -> tuple[str, bytes, bytes, bytes, Any] | None:
    """(marker, keys, offsets, values, lookup table) of ``d``, or None when ``d`` holds anything but plain data."""
    try:
        keys = list(d)
        kblob = marshal.dumps(keys, _VERSION)
        offs = array("q", [0])
        parts = []
        for k in keys:
            b = marshal.dumps(d[k], _VERSION)
            parts.append(b)
            offs.append(offs[-1] + len(b))
    except ValueError:  # marshal: an unsupported type
        return None
    vblob = b"".join(parts)
    if marshal.loads(kblob) != keys:
        return None
    return PACKED, kblob, offs.tobytes(), vblob, _table(keys)


def pack_pickled(d: dict[str, Any]) -> tuple[str, bytes, bytes, bytes, Any]:
    """(marker, keys, offsets, values, lookup table) of a dict with text keys and any picklable values, each
    value pickled on its own (read back by :func:`unpack_pickled`, a value unpickled on its first lookup). For
    the compiled packs snapshot, a cache file of the current user (its reader's checks apply to these bytes)."""
    keys = list(d)
    if not all(type(k) is str for k in keys):
        raise ValueError("pack_pickled: keys must be text")
    offs = array("q", [0])
    parts = []
    for k in keys:
        b = pickle.dumps(d[k], protocol=5)
        parts.append(b)
        offs.append(offs[-1] + len(b))
    return PICKLED, marshal.dumps(keys, _VERSION), offs.tobytes(), b"".join(parts), _table(keys)


def unpack_pickled(packed: Any) -> LazyDict:
    """The :class:`LazyDict` of a :func:`pack_pickled` tuple; ValueError when it does not have that shape."""
    if not _shaped(packed, PICKLED):
        raise ValueError("snapshot: not a pickled dict")
    return _lazy(packed, pickle.loads)


def unpack_dict(packed: Any) -> LazyDict:
    """The :class:`LazyDict` of a :func:`pack_dict` tuple read from a cache file; ValueError when it does not
    have that shape."""
    if not _shaped(packed, PACKED):
        raise ValueError("index cache: not a packed dict")
    return _lazy(packed, marshal.loads)


def _shaped(packed: Any, marker: str) -> bool:
    if not (type(packed) is tuple and len(packed) == 5 and packed[0] == marker
            and all(isinstance(p, _BLOB) for p in packed[1:4])):
        return False
    table = packed[4]
    return table is None or (type(table) is tuple and len(table) == 3 and all(isinstance(p, _BLOB) for p in table))


def _int64s(blob: Any) -> Any:
    """The int64 values of a stored offsets part, read in place (a memoryview: no copy of the ~100,000 offsets
    of an index's packed tables); ValueError when its size is not a multiple of 8."""
    try:
        return memoryview(blob).cast("B").cast("q")
    except TypeError as e:
        raise ValueError("index cache: damaged offsets") from e


def _lazy(packed: tuple[Any, ...], decode: Callable[[Any], Any]) -> LazyDict:
    _, kblob, oblob, vblob, table = packed
    offs = _int64s(oblob)
    if len(offs) < 1 or offs[0] != 0 or offs[-1] != len(vblob):
        raise ValueError("index cache: damaged packed dict")
    n = len(offs) - 1
    if table is None:  # keys without lookup bytes: the keys dict at once
        keys = marshal.loads(kblob)
        if type(keys) is not list or len(keys) != n:
            raise ValueError("index cache: damaged packed dict")
        return LazyDict(n, kblob, offs, vblob, decode, None, keys)
    slots, koffs = _int64s(table[0]), _int64s(table[1])
    size = len(slots)
    if (size < 8 or size & (size - 1) or size < n or len(koffs) != n + 1 or koffs[0] != 0
            or koffs[-1] != len(table[2])):
        raise ValueError("index cache: damaged packed dict")
    return LazyDict(n, kblob, offs, vblob, decode, (slots, koffs, memoryview(table[2])), None)


class LazyDict(dict[Any, Any]):
    """A dict whose values are decoded on first lookup (see the module docstring).

    A key is found through the stored lookup table (its bytes hashed with CRC-32, compared with the stored key
    bytes), so loading reads no key at all; after :data:`TABLE_LOOKUPS` lookups (a batch, not one shipment) the
    plain key -> position dict is built once and used instead."""

    def __init__(self, n: int, kblob: bytes, offsets: Any, values: bytes, decode: Callable[[Any], Any],
                 table: tuple[Any, Any, memoryview] | None, keys: list[Any] | None) -> None:
        super().__init__()
        self._n = n
        self._kblob = kblob
        self._keys: list[Any] | None = keys
        self._pos: dict[Any, int] | None = None if keys is None else dict(zip(keys, range(n), strict=True))
        self._table = table
        self._lookups = 0
        self._offs = offsets
        self._blob = memoryview(values)
        self._decode = decode
        self._all = not n

    def _key_list(self) -> list[Any]:
        if self._keys is None:
            keys = marshal.loads(self._kblob)
            if type(keys) is not list or len(keys) != self._n:
                raise ValueError("index cache: damaged packed dict")
            self._keys = keys
        return self._keys

    def _index(self, key: Any) -> int:
        """The stored position of ``key``, -1 when absent."""
        pos = self._pos
        if pos is None:
            self._lookups += 1
            kb = _kbytes(key) if self._lookups <= TABLE_LOOKUPS else None
            if kb is None or self._table is None:
                pos = self._pos = dict(zip(self._key_list(), range(self._n), strict=True))
            else:
                slots, koffs, kbuf = self._table
                mask = len(slots) - 1
                s = zlib.crc32(kb) & mask
                while True:
                    v = slots[s]
                    if not v:
                        return -1
                    if kbuf[koffs[v - 1]:koffs[v]] == kb:
                        return v - 1
                    s = (s + 1) & mask
        return pos.get(key, -1)

    def _load(self, key: Any) -> Any:
        i = self._index(key)
        if i < 0:
            return _MISS
        value = self._decode(self._blob[self._offs[i]:self._offs[i + 1]])
        dict.__setitem__(self, key, value)
        return value

    def _load_all(self) -> None:
        if not self._all:  # every value, in the keys' original order
            done = {}
            for i, k in enumerate(self._key_list()):
                v = dict.get(self, k, _MISS)
                done[k] = v if v is not _MISS else self._decode(self._blob[self._offs[i]:self._offs[i + 1]])
            dict.clear(self)
            dict.update(self, done)
            self._all = True

    def get(self, key: Any, default: Any = None) -> Any:
        v = dict.get(self, key, _MISS)
        if v is _MISS and not self._all:
            v = self._load(key)
        return default if v is _MISS else v

    def __getitem__(self, key: Any) -> Any:
        v = dict.get(self, key, _MISS)
        if v is _MISS:
            v = self._load(key) if not self._all else _MISS
            if v is _MISS:
                raise KeyError(key)
        return v

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or (not self._all and self._index(key) >= 0)

    def __len__(self) -> int:
        return dict.__len__(self) if self._all else self._n

    def __iter__(self) -> Iterator[Any]:
        return dict.__iter__(self) if self._all else iter(self._key_list())

    def __bool__(self) -> bool:
        return len(self) > 0

    def keys(self) -> KeysView[Any]:  # type: ignore[override]
        self._load_all()
        return dict.keys(self)

    def items(self) -> ItemsView[Any, Any]:  # type: ignore[override]
        self._load_all()
        return dict.items(self)

    def values(self) -> ValuesView[Any]:  # type: ignore[override]
        self._load_all()
        return dict.values(self)

    def __eq__(self, other: object) -> bool:
        self._load_all()
        if isinstance(other, LazyDict):
            other._load_all()
        return dict.__eq__(self, other)

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> Any:  # pickled as the plain dict it stands for
        self._load_all()
        return dict, (dict(dict.items(self)),)

    def __repr__(self) -> str:
        return f"LazyDict({len(self)} keys, {dict.__len__(self)} decoded)"

    def __setitem__(self, key: Any, value: Any) -> None:
        self._load_all()
        dict.__setitem__(self, key, value)

    def __delitem__(self, key: Any) -> None:
        self._load_all()
        dict.__delitem__(self, key)


TEXTS = "packed-texts-1"  # the marker of a packed list of strings


def pack_texts(texts: list[str]) -> tuple[str, bytes, bytes]:
    """(marker, offsets, UTF-8 bytes) of a list of strings, read back by :func:`unpack_texts`."""
    offs = array("q", [0])
    parts = []
    for t in texts:
        b = t.encode("utf-8", "surrogatepass")
        parts.append(b)
        offs.append(offs[-1] + len(b))
    return TEXTS, offs.tobytes(), b"".join(parts)


def unpack_texts(packed: Any) -> PackedTexts:
    """The :class:`PackedTexts` of a :func:`pack_texts` tuple; ValueError when it does not have that shape."""
    if not (type(packed) is tuple and len(packed) == 3 and packed[0] == TEXTS
            and isinstance(packed[1], _BLOB) and isinstance(packed[2], _BLOB)):
        raise ValueError("index cache: not packed texts")
    offs = _int64s(packed[1])
    if len(offs) < 1 or offs[0] != 0 or offs[-1] != len(packed[2]):
        raise ValueError("index cache: damaged packed texts")
    return PackedTexts(offs, packed[2])


class PackedTexts(Sequence[str]):
    """A read-only list of strings kept as one UTF-8 buffer: a string is decoded when it is read (an index's
    ~53,000 alias texts, of which a query reads the few it hits; unpickling them all was ~5 ms of a check)."""

    def __init__(self, offsets: Any, blob: bytes | memoryview) -> None:
        self._offs = offsets
        self._blob = blob

    def __len__(self) -> int:
        return len(self._offs) - 1

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError("PackedTexts index out of range")
        return str(self._blob[self._offs[index]:self._offs[index + 1]], "utf-8", "surrogatepass")

    def __iter__(self) -> Iterator[str]:
        blob, offs = self._blob, self._offs
        for i in range(len(offs) - 1):
            yield str(blob[offs[i]:offs[i + 1]], "utf-8", "surrogatepass")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PackedTexts | list | tuple):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> Any:  # pickled as the plain list it stands for
        return list, (list(self),)

    def __repr__(self) -> str:
        return f"PackedTexts({len(self)} texts)"


class PackedSet(AbstractSet[Any]):
    """A read-only set kept as a packed dict (:func:`pack_dict` of its members, values None): membership is
    answered through the lookup table without decoding the members (the English word list: ~30,000 words,
    unpickling them was ~3 ms of a check). Iteration and comparison decode them."""

    def __init__(self, members: LazyDict) -> None:
        self._members = members

    @classmethod
    def pack(cls, members: Iterable[Any]) -> tuple[str, bytes, bytes, bytes, Any] | None:
        """The packed form of ``members`` (sorted when they are all text: the same bytes for the same set)."""
        items = list(members)
        if all(type(m) is str for m in items):
            items.sort()
        return pack_dict(dict.fromkeys(items))

    @classmethod
    def unpack(cls, packed: Any) -> PackedSet:
        return cls(unpack_dict(packed))

    @classmethod
    def _from_iterable(cls, it: Iterable[Any]) -> frozenset[Any]:  # set operations give plain frozensets
        return frozenset(it)

    def __contains__(self, item: object) -> bool:
        return item in self._members

    def __iter__(self) -> Iterator[Any]:
        return iter(self._members)

    def __len__(self) -> int:
        return len(self._members)

    def __repr__(self) -> str:
        return f"PackedSet({len(self)} members)"

    def __reduce__(self) -> Any:  # pickled as the frozenset it stands for
        return frozenset, (frozenset(self),)


# numpy dtype strings -> memoryview formats (little-endian machines: the cache is rebuilt elsewhere, see FlatArray)
_FORMATS = {"<i8": "q", "<i4": "i", "<f8": "d", "|b1": "?", "<u8": "Q", "<u2": "H", "|u1": "B"}
_LITTLE = sys.byteorder == "little"


_OOB = b"ecscreen-oob-1\x00\x00"  # a payload whose large buffers follow the pickle (dump_payload)
_ALIGN = 8
# where a payload starts in its cache file: the header before it (ecscreen.parties.matching._CACHE_HEADER: magic,
# digest, length, checksum, 60 bytes). The buffers are aligned to the file, so that read in place from the
# mapped file (page aligned) an int64/float64 array is aligned in memory: numpy then uses it as it is, without
# a copy (FlatArray.numpy; issue 14: the --jobs workers share the pages of the file instead of a copy each)
PAYLOAD_BASE = 60
_OOB_MIN = 4096  # bytes of a packed table's part from which it is stored out of band
_BLOB = (bytes, memoryview)  # a packed part as stored (bytes) or read in place from a mapped file (memoryview)


class _Blob(bytes):
    """A packed table's large part, pickled out of band (dump_payload); loaded as a memoryview of the file."""

    def __reduce_ex__(self, protocol: Any) -> Any:
        if isinstance(protocol, int) and protocol >= 5:
            return memoryview, (pickle.PickleBuffer(self),)
        return bytes, (bytes(self),)


def out_of_band_bytes(value: bytes | memoryview) -> bytes:
    """``value`` marked for out-of-band storage by :func:`dump_payload` (read back as a memoryview of the file)."""
    return _blob(value)


def out_of_band_packed(value: Any) -> Any:
    """A packed dict (:func:`pack_dict`, :func:`pack_pickled`) or packed texts tuple with its large parts marked
    for out-of-band storage by :func:`dump_payload` wherever it is in the state (read back in place); in a plain
    tuple or list (``(count, packed dict)``), each packed item so marked; any other value as it is."""
    if type(value) is tuple and value and value[0] in (PACKED, TEXTS, PICKLED):
        return _out_of_band(value)
    if type(value) is tuple or type(value) is list:
        return type(value)(out_of_band_packed(v) for v in value)
    return value


def _out_of_band(value: Any) -> Any:
    """A packed dict or packed texts tuple with its large bytes parts marked for out-of-band storage."""
    if type(value) is tuple and value and value[0] in (PACKED, TEXTS, PICKLED):
        return tuple(_blob(v) if isinstance(v, _BLOB) else _out_of_band(v) for v in value)
    if type(value) is tuple and len(value) == 3 and all(isinstance(v, _BLOB) for v in value):  # a lookup table
        return tuple(_blob(v) for v in value)
    return value


def _blob(v: bytes | memoryview) -> bytes:
    """A packed part as stored: out of band when large (a part read in place from a file is stored again as
    bytes)."""
    b = v if type(v) is bytes else bytes(v)
    return _Blob(b) if len(b) >= _OOB_MIN else b


def dump_payload(state: Any, base: int = PAYLOAD_BASE) -> bytes:
    """A cache file's payload: ``pickle.dumps(state, protocol=5)``, with the data of every FlatArray stored out of
    band after the pickle (8-byte aligned), so that :func:`load_payload` reads them in place from the mapped
    file instead of copying ~20 MB (issue 10: the copy and the page faults of the fresh memory were ~15 ms of a
    check). A state without FlatArrays is the plain pickle, as before. Layout: marker, count, pickle length,
    each buffer's (offset, length) from the payload start, the pickle, the buffers, each 8-byte aligned in the
    file (``base``: the payload's offset in its file)."""
    buffers: list[pickle.PickleBuffer] = []
    if isinstance(state, dict):  # the packed tables of a state (index cache) are read in place too
        state = {k: _out_of_band(v) for k, v in state.items()}
    data = pickle.dumps(state, protocol=5, buffer_callback=buffers.append)
    if not buffers:
        return data
    raws = [b.raw() for b in buffers]
    head = len(_OOB) + 16 + 16 * len(raws)
    pos = head + len(data)
    spans = []
    for r in raws:
        pos += -(base + pos) % _ALIGN
        spans.append((pos, r.nbytes))
        pos += r.nbytes
    out = bytearray(_OOB)
    out += array("q", [len(raws), len(data)]).tobytes()
    out += array("q", [x for span in spans for x in span]).tobytes()
    out += data
    for (off, _), r in zip(spans, raws, strict=True):
        out += bytes(off - len(out))
        out += r
    return bytes(out)


def load_payload(payload: memoryview) -> Any:
    """The state of a :func:`dump_payload` payload (a memoryview of the mapped file: the out-of-band buffers
    are slices of it, kept mapped while the arrays live). ValueError when the layout is damaged."""
    if bytes(payload[:len(_OOB)]) != _OOB:
        return pickle.loads(payload)
    n, size = array("q", bytes(payload[len(_OOB):len(_OOB) + 16]))
    head = len(_OOB) + 16 + 16 * n
    if n < 0 or size < 0 or head + size > len(payload):
        raise ValueError("cache payload: damaged buffer table")
    spans = array("q", bytes(payload[len(_OOB) + 16:head]))
    views = []
    for i in range(n):
        off, length = spans[2 * i], spans[2 * i + 1]
        if off < head + size or length < 0 or off + length > len(payload):
            raise ValueError("cache payload: damaged buffer table")
        views.append(payload[off:off + length])
    return pickle.loads(payload[head:head + size], buffers=views)


class FlatArray:
    """A numpy array's bytes, read without numpy (issue 10: a one-shipment check must not import numpy, ~41 ms).

    The party index cache stores its arrays in this form: ``dtype`` (numpy's dtype string, such as ``<i4``),
    ``shape`` and the raw C-order bytes. Loading one copies the bytes and builds no numpy object; the
    single-query kernel (:mod:`ecscreen.parties.kernel_single`) and the scalar reads of the matcher
    (``int(a[i])``, ``a[i:j].tolist()``, ``len(a)``, ``a.tolist()``, ``a.max()``) work on it directly through a
    memoryview; :meth:`numpy` gives the numpy array the bulk kernel needs (a writable copy, made once by the
    caller). Fixed-width text arrays (``<U{n}``: the deletion index's keys) read item ``i`` as its string
    (numpy's trailing NULs dropped). A 2-D array indexes its flattened items (``a.item(i, j)`` reads a cell).
    """

    __slots__ = ("dtype", "shape", "data", "_view", "_width", "_text_all", "_max")

    def __init__(self, dtype: str, shape: tuple[int, ...], data: bytes, maximum: int | None = None) -> None:
        if type(dtype) is not str or type(shape) is not tuple or not isinstance(data, bytes | memoryview):
            raise ValueError("index cache: damaged flat array")
        # the largest item of an integer array, as numpy computed it when the cache file was written (None: not
        # stored; max() computes it). The index checks its alias -> entry array's largest item on every load:
        # a walk of ~0.1 M items in Python's memoryview cost ~1.5 ms CPU of a check.
        if maximum is not None and (type(maximum) is not int or not dtype.startswith(("<i", "<u", "|u"))):
            raise ValueError("index cache: damaged flat array")
        self._max = maximum
        if isinstance(data, memoryview) and (data.format != "B" or data.ndim != 1):
            data = data.cast("B")
        n = 1
        for d in shape:
            if type(d) is not int or d < 0:
                raise ValueError("index cache: damaged flat array")
            n *= d
        self.dtype, self.shape, self.data = dtype, shape, data
        self._width = 0
        self._text_all: str | None = None
        if dtype.startswith("<U") and dtype[2:].isdigit():
            self._width = 4 * int(dtype[2:])
            if len(data) != n * self._width or self._width == 0:
                raise ValueError("index cache: damaged flat array")
            self._view: Any = None
            return
        fmt = _FORMATS.get(dtype)
        if fmt is None or not _LITTLE:
            raise ValueError(f"index cache: flat array of dtype {dtype!r} not readable here")
        view = memoryview(data).cast(fmt)  # type: ignore[call-overload]
        if len(view) != n:
            raise ValueError("index cache: damaged flat array")
        self._view = view

    @classmethod
    def of(cls, arr: Any) -> FlatArray:
        """The flat form of a numpy array (C order)."""
        import numpy as np

        a = np.ascontiguousarray(arr)
        dtype = a.dtype.str
        maximum = int(a.max()) if a.size and dtype.startswith(("<i", "<u", "|u")) else None
        return cls(dtype, tuple(int(d) for d in a.shape), a.tobytes(), maximum)

    def numpy(self) -> Any:
        """The numpy array: over the data in place when they are read-only (a mapped cache file: the array is
        read-only, and its pages are the file's page-cache pages, shared by every process that maps the file,
        such as the ``--jobs`` workers: issue 14, memory), else a writable copy (as unpickling one gave)."""
        import numpy as np

        arr = np.frombuffer(self.data, dtype=self.dtype).reshape(self.shape)
        if isinstance(self.data, memoryview) and self.data.readonly and arr.flags.aligned:
            return arr
        return arr.copy()  # not mapped, or unaligned (a file written before PAYLOAD_BASE)

    def __reduce_ex__(self, protocol: Any) -> Any:
        # protocol 5: the data as a PickleBuffer, stored out of band by dump_payload (read in place on load)
        data: Any = pickle.PickleBuffer(self.data) if isinstance(protocol, int) and protocol >= 5 else bytes(self.data)
        if self._max is None:
            return FlatArray, (self.dtype, self.shape, data)
        return FlatArray, (self.dtype, self.shape, data, self._max)

    def __len__(self) -> int:
        return self.shape[0] if self.shape else 1

    def _text(self, i: int) -> str:
        w = self._width
        return str(self.data[i * w:(i + 1) * w], "utf-32-le").rstrip("\x00")

    def __getitem__(self, index: Any) -> Any:
        """Item ``index`` of the flattened array as a Python scalar; a slice gives a memoryview (``.tolist()``)."""
        if self._width:
            if isinstance(index, slice):
                return [self._text(i) for i in range(*index.indices(len(self)))]
            n = len(self)
            if index < 0:
                index += n
            if not 0 <= index < n:
                raise IndexError("FlatArray index out of range")
            return self._text(index)
        return self._view[index]

    @property
    def view(self) -> Any:
        """The items as a flat memoryview of Python scalars (numeric arrays; the fastest per-item read)."""
        if self._view is None:
            raise TypeError("a text FlatArray has no memoryview")
        return self._view

    def text_all(self) -> str:
        """A text array's items decoded at once, back to back (each ``width / 4`` characters, NULs kept; made on
        first use and kept): item ``i`` of an array of ``n``-character keys is ``text_all()[i * n:(i + 1) * n]``."""
        t = self._text_all
        if t is None:
            t = self._text_all = str(self.data, "utf-32-le")
        return t

    def bisect_keys(self, key: str) -> int:
        """``bisect_left`` of ``key`` in a sorted text array whose items have exactly ``width / 4`` characters
        (no NUL padding: the deletion index's keys of one length, in code-point order). Each probe decodes one
        item (issue 10: decoding a whole array of up to ~1 MB to look up a few keys cost ~2 ms CPU of a check);
        the whole text when :meth:`text_all` has made it already."""
        n = self._width // 4
        text = self._text_all
        data = self.data
        w = self._width
        lo, hi = 0, len(self)
        while lo < hi:
            mid = (lo + hi) // 2
            item = text[mid * n:mid * n + n] if text is not None else str(data[mid * w:mid * w + w], "utf-32-le")
            if item < key:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def key_at(self, i: int) -> str:
        """Item ``i`` of a text array as stored (NULs kept: ``text_all()[i * n:(i + 1) * n]``)."""
        w = self._width
        if self._text_all is not None:
            n = w // 4
            return self._text_all[i * n:i * n + n]
        return str(self.data[i * w:i * w + w], "utf-32-le")

    def text_at(self, i: int) -> str:
        """Item ``i`` of a text array (no bounds check beyond the buffer's)."""
        return self._text(i)

    def item(self, *index: int) -> Any:
        """The cell at ``index`` (row, column of a 2-D array; one index reads the flattened array)."""
        if len(index) == 2:
            return self._view[index[0] * self.shape[1] + index[1]]
        return self[index[0]]

    def row_bytes(self, i: int) -> bytes:
        """Row ``i`` of a 2-D array as its raw bytes (little-endian)."""
        size = len(self.data) // max(len(self), 1)
        return bytes(self.data[i * size:(i + 1) * size])

    def tolist(self) -> list[Any]:
        if self._width:  # decoded at once and sliced (UTF-32: n characters per item), not item by item
            n = self._width // 4
            text = self._text_all if self._text_all is not None else str(self.data, "utf-32-le")  # not kept
            return [text[i:i + n].rstrip("\x00") for i in range(0, len(text), n)]
        return list(self._view.tolist())

    def max(self) -> Any:
        if self._max is not None:
            return self._max
        return max(self._view) if self._view is not None else max(self.tolist())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FlatArray):
            return (self.dtype, self.shape, bytes(self.data)) == (other.dtype, other.shape, bytes(other.data))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"FlatArray({self.dtype}, {self.shape})"
