"""Issue 10, fourth round (h29): the model classes a one-shipment check creates at start-up.

The pack and result models are created from evaluated annotations, not from strings: pydantic compiles and
evaluates every string annotation when it creates a class (~25 % of the class's creation, ~11 ms CPU of a
check over the ~80 models of these modules). The models must be the same either way: same fields, same
JSON schema (tests/test_schemas.py compares the committed schemas), same validation.
"""

from __future__ import annotations

import importlib
import inspect

import pytest
from pydantic import BaseModel

MODEL_MODULES = ("ecscreen.model", "ecscreen.packs.registry", "ecscreen.engine.chart",
                 "ecscreen.engine.jurisdiction", "ecscreen.engine.listscope")

# the forward references (a class defined further down, or the class itself) left as strings
FORWARD_REFS = {
    ("ecscreen.model", "Finding", "steps"),
    ("ecscreen.packs.registry", "Cond", "all"),
    ("ecscreen.packs.registry", "Cond", "any"),
    ("ecscreen.packs.registry", "Cond", "not_"),
    ("ecscreen.packs.registry", "Cond", "end_use_has"),
    ("ecscreen.packs.registry", "Cond", "param"),
    ("ecscreen.packs.registry", "Cond", "party_country_in"),
    ("ecscreen.packs.registry", "Cond", "party_name_in"),
    ("ecscreen.packs.registry", "Cond", "party_hit"),
}


def _models(module: str) -> list[type[BaseModel]]:
    mod = importlib.import_module(module)
    return [c for _, c in inspect.getmembers(mod, inspect.isclass)
            if issubclass(c, BaseModel) and c.__module__ == module]


@pytest.mark.parametrize("module", MODEL_MODULES)
def test_model_modules_create_their_classes_from_evaluated_annotations(module: str) -> None:
    """Regression (issue 10): these modules used ``from __future__ import annotations``, so every field
    annotation of their ~80 models reached pydantic as a string to compile and evaluate at start-up."""
    mod = importlib.import_module(module)
    assert "annotations" not in vars(mod), f"{module} imports annotations from __future__ again"
    models = _models(module)
    assert models
    strings = {(module, c.__name__, name) for c in models
               for name, ann in vars(c).get("__annotations__", {}).items() if isinstance(ann, str)}
    assert strings <= FORWARD_REFS, sorted(strings - FORWARD_REFS)


def test_forward_references_resolve_to_the_same_fields() -> None:
    """The quoted forward references are resolved as before: the recursive condition validates nested
    conditions, and a finding's steps are Step models."""
    from ecscreen.model import Finding, Step
    from ecscreen.packs.registry import Cond, ParamCond

    c = Cond.model_validate({"all": [{"destination_in": ["CN"]}, {"not": {"eccn_in": ["3A090"]}},
                                     {"param": {"name": "tpp", "gte": 4800}}]})
    assert c.all is not None and isinstance(c.all[1].not_, Cond) and isinstance(c.all[2].param, ParamCond)
    with pytest.raises(ValueError):
        Cond.model_validate({"all": [{"destination_in": ["CN"], "eccn_in": ["3A090"]}]})  # two keys in one node
    f = Finding.model_validate({"rule_id": "X", "pack_id": "p", "outcome": "review", "title": "t", "message": "m",
                                "steps": [{"name": "origin", "outcome": "subject", "detail": "d"}]})
    assert isinstance(f.steps[0], Step)
