"""Parts of the party index cache that are read per key, not decoded whole on load.

The fuzzy indexes of the matcher (consonant skeletons, Jaro-Winkler buckets, acronyms, the sound index) are
dicts of tens of thousands of keys whose values are lists of words; a query looks up a handful of keys. In the
cache file each such dict is stored packed (:func:`pack_dict`): the keys as one marshal'd list, the values
marshal'd one by one, back to back, with their offsets. :class:`LazyDict` is that dict after a load: the keys
are read at once (a few milliseconds), a value when its key is first looked up (then kept). It answers
``get``, ``[]``, ``in``, ``len`` and iteration like the dict it was made from; anything that walks every
value (``items()``, ``values()``, ``==``, pickling) decodes them all first.

Only plain data (str, int, float, tuples and lists of them) is packed; :func:`pack_dict` returns None for
anything else, and the dict is then stored as it is.
"""

from __future__ import annotations

import marshal
import pickle
from array import array
from collections.abc import Callable, ItemsView, Iterator, KeysView, ValuesView
from typing import Any

__all__ = ["LazyDict", "pack_dict", "pack_pickled", "unpack_dict", "unpack_pickled", "PACKED", "PICKLED"]

PACKED = "packed-dict-1"  # the marker of a packed dict in a cache state
PICKLED = "pickled-dict-1"  # the marker of a dict of pickled values (objects: the compiled packs snapshot)
_MISS: Any = object()
_VERSION = 2  # marshal format without back-references: the same bytes for equal values, whatever their refcounts


def pack_dict(d: dict[Any, Any]) -> tuple[str, bytes, bytes, bytes] | None:
    """(marker, keys, offsets, values) of ``d``, or None when ``d`` holds anything but plain data."""
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
    return PACKED, kblob, offs.tobytes(), vblob


def pack_pickled(d: dict[str, Any]) -> tuple[str, bytes, bytes, bytes]:
    """(marker, keys, offsets, values) of a dict with text keys and any picklable values, each value pickled
    on its own (read back by :func:`unpack_pickled`, a value unpickled on its first lookup). For the
    compiled packs snapshot, a cache file of the current user (its reader's checks apply to these bytes)."""
    keys = list(d)
    if not all(type(k) is str for k in keys):
        raise ValueError("pack_pickled: keys must be text")
    offs = array("q", [0])
    parts = []
    for k in keys:
        b = pickle.dumps(d[k], protocol=5)
        parts.append(b)
        offs.append(offs[-1] + len(b))
    return PICKLED, marshal.dumps(keys, _VERSION), offs.tobytes(), b"".join(parts)


def unpack_pickled(packed: Any) -> LazyDict:
    """The :class:`LazyDict` of a :func:`pack_pickled` tuple; ValueError when it does not have that shape."""
    if not (type(packed) is tuple and len(packed) == 4 and packed[0] == PICKLED
            and all(type(p) is bytes for p in packed[1:])):
        raise ValueError("snapshot: not a pickled dict")
    return _lazy(packed, pickle.loads)


def unpack_dict(packed: Any) -> LazyDict:
    """The :class:`LazyDict` of a :func:`pack_dict` tuple read from a cache file; ValueError when it does not
    have that shape."""
    if not (type(packed) is tuple and len(packed) == 4 and packed[0] == PACKED
            and all(type(p) is bytes for p in packed[1:])):
        raise ValueError("index cache: not a packed dict")
    return _lazy(packed, marshal.loads)


def _lazy(packed: tuple[Any, ...], decode: Callable[[Any], Any]) -> LazyDict:
    _, kblob, oblob, vblob = packed
    keys = marshal.loads(kblob)
    offs = array("q", oblob)
    if type(keys) is not list or len(offs) != len(keys) + 1 or offs[0] != 0 or offs[-1] != len(vblob):
        raise ValueError("index cache: damaged packed dict")
    return LazyDict(keys, offs, vblob, decode)


class LazyDict(dict[Any, Any]):
    """A dict whose values are decoded on first lookup (see the module docstring)."""

    def __init__(self, keys: list[Any], offsets: array[int], values: bytes,
                 decode: Callable[[Any], Any] = marshal.loads) -> None:
        super().__init__()
        self._pos = dict(zip(keys, range(len(keys)), strict=True))
        self._offs = offsets
        self._blob = memoryview(values)
        self._decode = decode
        self._all = not keys

    def _load(self, key: Any) -> Any:
        i = self._pos.get(key)
        if i is None or i < 0:
            return _MISS
        value = self._decode(self._blob[self._offs[i]:self._offs[i + 1]])
        dict.__setitem__(self, key, value)
        return value

    def _load_all(self) -> None:
        if not self._all:  # every value, in the keys' original order
            done = {k: v if (v := dict.get(self, k, _MISS)) is not _MISS else self._load(k) for k in self._pos}
            dict.clear(self)
            dict.update(self, done)
            self._all = True

    def get(self, key: Any, default: Any = None) -> Any:
        v = dict.get(self, key, _MISS)
        if v is _MISS:
            v = self._load(key)
        return default if v is _MISS else v

    def __getitem__(self, key: Any) -> Any:
        v = dict.get(self, key, _MISS)
        if v is _MISS:
            v = self._load(key)
            if v is _MISS:
                raise KeyError(key)
        return v

    def __contains__(self, key: object) -> bool:
        return key in self._pos

    def __len__(self) -> int:
        return len(self._pos)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._pos)

    def __bool__(self) -> bool:
        return bool(self._pos)

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
        return f"LazyDict({len(self._pos)} keys, {dict.__len__(self)} decoded)"

    def __setitem__(self, key: Any, value: Any) -> None:
        self._load_all()
        self._pos.setdefault(key, -1)
        dict.__setitem__(self, key, value)

    def __delitem__(self, key: Any) -> None:
        self._load_all()
        del self._pos[key]
        dict.__delitem__(self, key)
