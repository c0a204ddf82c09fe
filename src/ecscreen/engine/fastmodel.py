"""Pydantic models built from values that are already valid, without validating them again (issue 14).

On the batch hot path the engine and the batch runner build a few models per order line from values that
were validated before (a memoised jurisdiction result, a validated product with this line's quantity and
value). ``Model(**values)`` validates them again (~7 us each) and, in this pydantic, ``model_construct`` is
slower still. :func:`built` and :func:`replaced` set the instance's state as ``model_construct`` and
``model_copy`` do. They are used only for models without private attributes, extra fields or a post-init
hook, and only with every field given (:func:`built`); anything else goes through the validating
constructor, so the object is the same either way (tests compare them)."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)
_set = object.__setattr__
_PLAIN: dict[type, tuple[str, ...] | None] = {}
# per class: its field names as a set (``replaced``): ``cls.model_fields`` is a deprecation-checking descriptor
# in this pydantic (a Python call per read: ~1.4 % of a 1M-row batch, issue 14)
_NAMES: dict[type, frozenset[str] | None] = {}


def _fields(cls: type[BaseModel]) -> tuple[str, ...] | None:
    """The field names of a model these helpers may build (None: use the validating constructor)."""
    got = _PLAIN.get(cls, False)
    if got is False:
        plain = (not cls.__private_attributes__ and cls.__pydantic_post_init__ is None
                 and cls.model_config.get("extra") != "allow" and not cls.__pydantic_root_model__)
        got = _PLAIN[cls] = tuple(cls.model_fields) if plain else None
    return got  # type: ignore[return-value]


def built(cls: type[M], values: dict[str, Any]) -> M:
    """``cls(**values)`` for values that are valid for ``cls``, every field given in the model's field order
    (else the validating constructor is used)."""
    names = _PLAIN.get(cls, False)  # _fields(cls), inlined (several models per order line)
    if names is False:
        names = _fields(cls)
    if names is None or tuple(values) != names:
        return cls(**values)
    m = cls.__new__(cls)
    _set(m, "__dict__", values)
    _set(m, "__pydantic_fields_set__", set(values))
    _set(m, "__pydantic_extra__", None)
    _set(m, "__pydantic_private__", None)
    return m


def replaced(obj: M, changes: dict[str, Any]) -> M:
    """``obj.model_copy(update=changes)`` (valid values for existing fields; a shallow copy)."""
    cls = type(obj)
    try:
        names = _NAMES[cls]
    except KeyError:
        f = _fields(cls)
        names = _NAMES[cls] = frozenset(f) if f is not None else None
    if names is None or not changes.keys() <= names:
        return obj.model_copy(update=changes)
    d = dict(obj.__dict__)
    d.update(changes)
    m = cls.__new__(cls)
    _set(m, "__dict__", d)
    _set(m, "__pydantic_fields_set__", obj.__pydantic_fields_set__ | changes.keys())
    _set(m, "__pydantic_extra__", None)
    _set(m, "__pydantic_private__", None)
    return m
