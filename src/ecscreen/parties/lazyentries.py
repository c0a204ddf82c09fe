"""List entries decoded on first use: what a one-shipment ``check`` reads of a 26,000-entry list.

A decoded list is cached on disk (``ecscreen.parties.store``) as plain rows (one tuple of field values per
entry, in :data:`FIELDS` order, written with :mod:`marshal`): reading them back takes a few hundredths of a
second, where unpickling 26,000 pydantic models took a few tenths. :class:`LazyEntries` is the list of
entries over such rows: an entry becomes a :class:`~ecscreen.parties.matching.ListEntry` when it is first
read (``entries[i]``, the entries of a query's hits), once, and is kept; iterating decodes every entry in
one pass (bulk users: the address index, exports). The entries are equal, field for field and in their
"fields set", to the ones the rows were made from (:func:`encode_rows` checks the round trip before a
cache file is written).

``content_key`` names the entries' content (the digest of the stored list file and of the code that decoded
it): the party index cache keys on it instead of hashing every name and alias of the entries
(:func:`entries_fingerprint`), so loading the index reads no entry at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import marshal
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any, overload

from ecscreen.parties.matching import ListEntry

__all__ = ["FIELDS", "LazyEntries", "ConcatEntries", "Rows", "encode_rows", "entries_fingerprint",
           "name_count"]

FIELDS: tuple[str, ...] = tuple(ListEntry.model_fields)
_DATE_FIELDS = frozenset(n for n, f in ListEntry.model_fields.items() if f.annotation in (dt.date, dt.date | None))
_DATE_POS = tuple(i for i, n in enumerate(FIELDS) if n in _DATE_FIELDS)
_PLAIN = (str, int, type(None))
DECODED_KEEP = 8_192  # entries kept decoded per list (see LazyEntries; only speed and memory depend on it)


def _plain(v: Any) -> bool:
    if type(v) in _PLAIN:
        return True
    return type(v) is list and all(type(x) in _PLAIN for x in v)


def _row(e: ListEntry) -> tuple[tuple[Any, ...], int] | None:
    d = e.__dict__
    if e.__pydantic_extra__ or e.__pydantic_private__ or d.keys() != set(FIELDS):
        return None
    vals = []
    for i, n in enumerate(FIELDS):
        v = d[n]
        if i in _DATE_POS and type(v) is dt.date:
            v = v.toordinal()
        elif not _plain(v):
            return None
        vals.append(v)
    fset = e.model_fields_set
    return tuple(vals), sum(1 << i for i, n in enumerate(FIELDS) if n in fset)


def _entry(row: tuple[tuple[Any, ...], int]) -> ListEntry:
    vals, mask = row
    d = dict(zip(FIELDS, vals, strict=True))
    for i in _DATE_POS:
        if vals[i] is not None:
            d[FIELDS[i]] = dt.date.fromordinal(vals[i])
    e = ListEntry.__new__(ListEntry)
    # pydantic's own unpickling path: the model exactly as it was, without validating again
    e.__setstate__({"__dict__": d, "__pydantic_fields_set__": {n for i, n in enumerate(FIELDS) if mask >> i & 1},
                    "__pydantic_extra__": None, "__pydantic_private__": None})
    return e


@dataclass(frozen=True)
class Rows:
    """Entries as stored in the decoded-list cache: one marshal'd row per entry, back to back in ``blob``;
    entry ``i`` is ``blob[offsets[i]:offsets[i + 1]]``; ``names`` counts the names plus aliases."""

    blob: bytes | memoryview  # a memoryview of the mapped cache file when read from it
    offsets: bytes | memoryview  # array("q") of len(entries) + 1 offsets
    names: int

    def to_state(self) -> dict[str, Any]:
        # the rows out of band (indexcache.dump_payload): read in place from the mapped file, not copied (~9 MB)
        from ecscreen.parties.indexcache import out_of_band_bytes

        return {"rows": out_of_band_bytes(self.blob), "row_offsets": out_of_band_bytes(self.offsets),
                "names": self.names, "fields": FIELDS}

    @classmethod
    def from_state(cls, state: dict[str, Any], n: int) -> Rows | None:
        """The rows of a cache file's state for ``n`` entries, or None when they do not have that shape."""
        blob, offsets, names = state.get("rows"), state.get("row_offsets"), state.get("names")
        if not (isinstance(blob, bytes | memoryview) and isinstance(offsets, bytes | memoryview) and type(names) is int
                and state.get("fields") == FIELDS and len(offsets) == 8 * (n + 1)):
            return None
        offs = memoryview(offsets).cast("B").cast("q")
        if offs[0] != 0 or offs[-1] != len(blob):
            return None
        return cls(blob, offsets, names)


def encode_rows(entries: Sequence[ListEntry]) -> Rows | None:
    """The rows of ``entries`` (field values, fields-set bitmask), or None when an entry does not round-trip
    exactly (a value of a type the rows cannot carry): such a list is then not cached this way."""
    parts = []
    offs = array("q", [0])
    names = 0
    for e in entries:
        r = _row(e)
        if r is None or _entry(r) != e or _entry(r).model_fields_set != e.model_fields_set:
            return None
        b = marshal.dumps(r, 2)  # version 2: no back-references, the same bytes for equal rows
        parts.append(b)
        offs.append(offs[-1] + len(b))
        names += 1 + len(e.aliases)
    return Rows(b"".join(parts), offs.tobytes(), names)


class LazyEntries(Sequence[ListEntry]):
    """Entries over cached rows, each made a ListEntry when first read (see the module docstring)."""

    def __init__(self, rows: Rows, content_key: str) -> None:
        self._blob = memoryview(rows.blob)
        self._offs = memoryview(rows.offsets).cast("B").cast("q")  # read in place (issue 10)
        self._n = len(self._offs) - 1
        self._all: list[ListEntry] | None = None  # every entry, when given decoded (:meth:`of`)
        # entries decoded on demand, at most DECODED_KEEP (the older half dropped when full): a long batch
        # reads most of a list's entries once in a while, and keeping all of them cost ~2.3 KB each
        # (issue 14: memory); a dropped entry is decoded again, equal field for field
        self._kept: dict[int, ListEntry] = {}
        self._names = rows.names
        self.content_key = content_key
        self.decodes = 0

    @classmethod
    def of(cls, rows: Rows, entries: Sequence[ListEntry], content_key: str) -> LazyEntries:
        """Over ``rows`` with their ``entries`` (made from them by :func:`encode_rows`) already decoded."""
        out = cls(rows, content_key)
        out._all = list(entries)
        return out

    def __len__(self) -> int:
        return self._n

    def _row(self, index: int) -> tuple[tuple[Any, ...], int]:
        try:
            r = marshal.loads(self._blob[self._offs[index]:self._offs[index + 1]])
        except (ValueError, EOFError, TypeError):
            r = None
        if not (type(r) is tuple and len(r) == 2 and type(r[0]) is tuple and len(r[0]) == len(FIELDS)
                and type(r[1]) is int):
            raise ValueError(f"damaged decoded-list cache: entry {index} cannot be read")
        return r

    @overload
    def __getitem__(self, index: int) -> ListEntry: ...

    @overload
    def __getitem__(self, index: slice) -> list[ListEntry]: ...

    def __getitem__(self, index: int | slice) -> ListEntry | list[ListEntry]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._n))]
        if self._all is not None:
            return self._all[index]
        if index < 0:
            index += self._n
        if not 0 <= index < self._n:
            raise IndexError("list index out of range")
        kept = self._kept
        found = kept.get(index)
        if found is None:
            found = _entry(self._row(index))
            self.decodes += 1
            if len(kept) >= DECODED_KEEP:
                for k in list(islice(kept, len(kept) // 2)):
                    del kept[k]
            kept[index] = found
        return found

    def __iter__(self) -> Iterator[ListEntry]:
        for i in range(self._n):
            yield self[i]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LazyEntries) and other.content_key == self.content_key:
            return True
        return isinstance(other, Sequence) and not isinstance(other, str) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]  # mutable like the list it stands for

    def __repr__(self) -> str:
        kept = self._n if self._all is not None else len(self._kept)
        return f"LazyEntries({len(self)} entries, {kept} decoded)"

    def __reduce__(self) -> Any:  # pickled (worker processes) as the plain list it stands for
        return list, (list(self),)

    def names(self, index: int) -> tuple[str, list[str]]:
        """(name, aliases) of an entry."""
        e = self[index]
        return e.name, e.aliases


class ConcatEntries(Sequence[ListEntry]):
    """The entries of several lists in order, each part kept as it is (a lazy part stays lazy)."""

    def __init__(self, parts: Sequence[Sequence[ListEntry]]) -> None:
        self._parts = [p for p in parts if len(p)]
        self._starts: list[int] = []
        n = 0
        for p in self._parts:
            self._starts.append(n)
            n += len(p)
        self._n = n
        h = hashlib.sha256(b"concat")
        for p in self._parts:
            h.update(b"\x00" + entries_fingerprint(p))
        self.content_key = h.hexdigest()

    def __len__(self) -> int:
        return self._n

    def _locate(self, index: int) -> tuple[Sequence[ListEntry], int]:
        if index < 0:
            index += self._n
        if not 0 <= index < self._n:
            raise IndexError("entry index out of range")
        from bisect import bisect_right

        k = bisect_right(self._starts, index) - 1
        return self._parts[k], index - self._starts[k]

    @overload
    def __getitem__(self, index: int) -> ListEntry: ...

    @overload
    def __getitem__(self, index: slice) -> list[ListEntry]: ...

    def __getitem__(self, index: int | slice) -> ListEntry | list[ListEntry]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._n))]
        part, i = self._locate(index)
        return part[i]

    def __iter__(self) -> Iterator[ListEntry]:
        for p in self._parts:
            yield from p

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and not isinstance(other, str) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def names(self, index: int) -> tuple[str, list[str]]:
        part, i = self._locate(index)
        if isinstance(part, LazyEntries | ConcatEntries):
            return part.names(i)
        return part[i].name, part[i].aliases


def _all_names(entries: Sequence[ListEntry]) -> Iterator[tuple[str, list[str]]]:
    if isinstance(entries, LazyEntries | ConcatEntries):
        return (entries.names(i) for i in range(len(entries)))
    return ((e.name, e.aliases) for e in entries)


def entries_fingerprint(entries: Sequence[ListEntry]) -> bytes:
    """What the party index of ``entries`` depends on: their names and aliases in order, or, for entries
    decoded from a cached list, the content key that determines them (no entry is read)."""
    key = getattr(entries, "content_key", None)
    if isinstance(key, str):
        return b"content:" + key.encode()
    names = "\x1e".join("\x1f".join([name, *aliases]) for name, aliases in _all_names(entries))
    return hashlib.sha256(names.encode("utf-8", "surrogatepass")).digest()


def name_count(entries: Sequence[ListEntry]) -> int:
    """Names plus aliases of ``entries`` (without decoding lazy entries)."""
    if isinstance(entries, ConcatEntries):
        return sum(map(name_count, entries._parts))
    if isinstance(entries, LazyEntries):
        return entries._names
    return sum(1 + len(e.aliases) for e in entries)


def han_texts_of(entries: Sequence[ListEntry]) -> Iterator[str]:
    """Every name and alias of ``entries`` (without decoding lazy entries)."""
    for name, aliases in _all_names(entries):
        yield name
        yield from aliases
