"""Line-independent chart determinations (the engine's chart memo, issue 14).

``chart.determine`` reads the item's line index only to write it into the result: ``item N: ...`` notes,
``items[N].eccn`` evidence fields, ``Finding.item_index``. The memo therefore computes a determination
once for a placeholder index (``SENTINEL``, a number no input carries: keys whose facts contain its digits
are not memoised) and keeps it with a *template*: where the placeholder occurs. For a line, ``Template.apply``
copies only the objects on those paths with the line's index written in; every other object (citations,
steps, evidence without the index) is shared between the lines and the entries. Equal strings, equal models
and equal fields sets are interned across entries (:class:`Interner`), so an entry costs little beyond what
is particular to it.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from pydantic import BaseModel

from ecscreen.engine.fastmodel import replaced

SENTINEL = 987_654_321
SENTINEL_S = str(SENTINEL)

# a plan says how to rebuild a value for a line: None = shared as is; otherwise one of
#   ("s",)                      a string containing the placeholder
#   ("i",)                      the int placeholder itself
#   ("l", ((pos, plan), ...))   a list: positions to rebuild
#   ("t", ((pos, plan), ...))   a tuple
#   ("d", ((key, plan), ...))   a dict: values to rebuild
#   ("m", ((field, plan), ...)) a pydantic model: fields to rebuild (model_copy, no validation)
Plan = tuple[Any, ...] | None
_STR: Plan = ("s",)
_INT: Plan = ("i",)


def plan_of(obj: Any) -> Plan:
    """Where the placeholder occurs in ``obj`` (None: nowhere)."""
    if type(obj) is str:
        return _STR if SENTINEL_S in obj else None
    if isinstance(obj, str):  # a str enum: no index in it
        return None
    if isinstance(obj, bool):
        return None
    if isinstance(obj, int):
        return _INT if obj == SENTINEL else None
    if isinstance(obj, BaseModel):
        fields = tuple((name, p) for name in type(obj).model_fields
                       if (p := plan_of(getattr(obj, name))) is not None)
        return ("m", fields) if fields else None
    if isinstance(obj, (list, tuple)):
        items = tuple((i, p) for i, x in enumerate(obj) if (p := plan_of(x)) is not None)
        return (("l" if isinstance(obj, list) else "t"), items) if items else None
    if isinstance(obj, dict):
        parts = tuple((k, p) for k, v in obj.items() if (p := plan_of(v)) is not None)
        return ("d", parts) if parts else None
    if isinstance(obj, (float, type(None))):
        return None
    # anything else (dates, enums) carries no index; an unknown container could: refuse to memoise
    if hasattr(obj, "__iter__") and not isinstance(obj, (bytes, bytearray)):
        raise TypeError(f"chart memo: cannot template a {type(obj).__name__}")
    return None


def apply(obj: Any, plan: Plan, s: str, i: int) -> Any:
    """``obj`` with the placeholder replaced by the line's index (``s`` its text, ``i`` the int)."""
    if plan is None:
        return obj
    kind = plan[0]
    if kind == "s":
        return obj.replace(SENTINEL_S, s)
    if kind == "i":
        return i
    if kind == "m":
        # obj.model_copy(update=...), without its overhead (fastmodel.replaced: the same copy for plain models)
        return replaced(obj, {name: apply(getattr(obj, name), p, s, i) for name, p in plan[1]})
    if kind == "d":
        d = dict(obj)
        for k, p in plan[1]:
            d[k] = apply(d[k], p, s, i)
        return d
    out = list(obj)
    for pos, p in plan[1]:
        out[pos] = apply(out[pos], p, s, i)
    return out if kind == "l" else tuple(out)


_ATOMS = (str, int, float, bool, type(None), dt.date, dt.datetime)


class Interner:
    """Equal strings, and equal models, shared across memo entries (they repeat across ECCNs and destinations).

    A model is replaced by one kept before when both are equal to the letter: same class, same fields set,
    and every field the same value of the same type (sub-models: the same kept object, as they are shared
    first). Citations, steps and evidence recur in most entries; each kept once (issue 14: the chart memo
    was ~10 KB per entry at 300k ERP rows, most of it pydantic instances' dicts and fields sets). Memo entries
    are only read: the engine copies what it changes (see :class:`Template`)."""

    __slots__ = ("strs", "models", "fsets", "kept")

    def __init__(self) -> None:
        self.strs: dict[str, str] = {}
        # by the hash of its key (keys are not kept: they cost as much as the models saved); a candidate
        # is used only when its own key equals the model's
        self.models: dict[int, BaseModel] = {}
        # equal fields sets of kept models: one set object (pydantic copies it in model_copy, and memo
        # entries are never assigned to, so it is never changed)
        self.fsets: dict[tuple[type, frozenset[str]], set[str]] = {}
        self.kept: set[int] = set()  # ids of the models in ``models`` (alive as long as they are kept there)

    def __len__(self) -> int:
        return len(self.strs) + len(self.models) + len(self.fsets)

    def _key(self, v: Any) -> Any:
        """A hashable key equal only for values equal to the letter (None: cannot tell)."""
        t = type(v)
        if t is float or t is dt.date or t is dt.datetime:
            return (t, repr(v))  # -0.0 == 0.0, and equal datetimes of other time zones, read differently
        if t in _ATOMS or isinstance(v, enum.Enum):
            return (t, v)
        if isinstance(v, BaseModel):
            return ("m", id(v)) if id(v) in self.kept else None
        if t is list or t is tuple:
            keys = tuple(self._key(x) for x in v)
            return None if None in keys else (t, keys)
        if t is dict:
            items = tuple((self._key(k), self._key(x)) for k, x in v.items())
            return None if any(a is None or b is None for a, b in items) else (t, items)
        return None

    def _model_key(self, obj: BaseModel) -> Any:
        if obj.__pydantic_extra__ or obj.__pydantic_private__:
            return None
        d = obj.__dict__
        vals = tuple(self._key(d[name]) if name in d else ("-",) for name in type(obj).model_fields)
        if None in vals or len(d) != len(vals):
            return None
        return (type(obj), frozenset(obj.__pydantic_fields_set__), vals)

    def share(self, obj: Any) -> Any:
        """``obj`` with its immutable parts replaced by equal ones already kept (lists rebuilt in place)."""
        if type(obj) is str:  # exactly: a str enum (Outcome) must stay itself
            return self.strs.setdefault(obj, obj)
        if isinstance(obj, BaseModel):
            for name in type(obj).model_fields:
                v = getattr(obj, name)
                nv = self.share(v)
                if nv is not v:
                    obj.__dict__[name] = nv  # an equal value: the model reads the same
            key = self._model_key(obj)
            if key is None:
                return obj
            h = hash(key)
            got = self.models.get(h)
            if got is None:
                self.models[h] = obj
                self.kept.add(id(obj))
                fs = obj.__pydantic_fields_set__
                object.__setattr__(obj, "__pydantic_fields_set__",
                                   self.fsets.setdefault((type(obj), frozenset(fs)), fs))
                return obj
            return got if got is not obj and self._model_key(got) == key else obj
        if isinstance(obj, list):
            for k, x in enumerate(obj):
                nx = self.share(x)
                if nx is not x:
                    obj[k] = nx
            return obj
        if isinstance(obj, dict):
            for k, v in obj.items():
                nv = self.share(v)
                if nv is not v:
                    obj[k] = nv
            return obj
        return obj

    def clear(self) -> None:
        self.strs.clear()
        self.models.clear()
        self.fsets.clear()
        self.kept.clear()


# per template, the lines kept written: the first two (every order has a line 0, most ERP orders a line 1;
# a kept line holds its own copies of the indexed findings, so keeping all eight cost ~30 MB on 1M rows)
LINES_KEPT = 2


class Template:
    """A determination for the placeholder index, and how to write a line's index into it.

    The determination written for a line is kept (per template, for line indexes below :data:`LINES_KEPT`):
    the next order with the same facts at the same line gets the same objects again. Sharing them is what
    the memo already does for the objects without the index (citations, steps, findings of no line): the
    engine copies the lists and later steps change findings only on copies."""

    __slots__ = ("findings", "notes", "errors", "plan", "lines")

    def __init__(self, findings: list[Any], notes: list[str], errors: list[Any]) -> None:
        self.findings = tuple(findings)
        self.notes = tuple(notes)
        self.errors = tuple(errors)
        self.plan = (plan_of(self.findings), plan_of(self.notes), plan_of(self.errors))
        self.lines: dict[int, Line] = {}

    def for_line(self, index: int) -> Line:
        got = self.lines.get(index)
        if got is not None:
            return got
        pf, pn, pe = self.plan
        if pf is None and pn is None and pe is None:  # nothing names the line: one Line serves every index
            got = Line(index, self.findings, self.notes, self.errors)
        else:
            s = str(index)
            got = Line(index, apply(self.findings, pf, s, index), apply(self.notes, pn, s, index),
                       apply(self.errors, pe, s, index))
        if index < LINES_KEPT:
            self.lines[index] = got
        return got


class Line:
    """The parts of a ``chart.ChartResult`` that ``screen_one`` reads, for one line index."""

    __slots__ = ("index", "findings", "notes", "errors")

    def __init__(self, index: int, findings: tuple[Any, ...], notes: tuple[str, ...], errors: tuple[Any, ...]) -> None:
        self.index = index
        self.findings = findings
        self.notes = notes
        self.errors = errors
