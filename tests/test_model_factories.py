"""Models' list defaults come from a Python function, not the ``list`` type (issue 10, start-up).

pydantic reads a default factory's signature when it builds a model's validator; for ``list`` (a builtin with a
text signature) that parses the text with the tokenizer: ~0.07 ms a field and ~1.8 ms for the tokenizer's
first use, ~8 ms CPU of every ``check`` over the ~40 such fields it builds. The models a check builds use
:func:`ecscreen.model.new_list`, which gives the same fresh empty list.
"""

from __future__ import annotations

import importlib
import inspect

import pytest
from pydantic import BaseModel

from ecscreen.model import Finding, Report, new_list

# the modules whose models a one-shipment `check` builds (shipment, findings, report, packs, lists, records)
CHECK_PATH = ["ecscreen.model", "ecscreen.model.gate", "ecscreen.engine.chart", "ecscreen.engine.jurisdiction",
              "ecscreen.engine.listscope", "ecscreen.packs.registry", "ecscreen.records.models",
              "ecscreen.parties.matching"]


def _models(module_name: str) -> list[type[BaseModel]]:
    mod = importlib.import_module(module_name)
    return [v for v in vars(mod).values()
            if inspect.isclass(v) and issubclass(v, BaseModel) and v.__module__ == module_name]


@pytest.mark.parametrize("module_name", CHECK_PATH)
def test_no_builtin_list_default_factory(module_name: str) -> None:
    models = _models(module_name)
    assert models, module_name
    slow = [f"{m.__name__}.{name}" for m in models for name, f in m.model_fields.items()
            if f.default_factory is not None and getattr(f.default_factory, "__text_signature__", None)]
    assert slow == [], f"use default_factory=new_list (ecscreen.model), not a builtin: {slow}"


def test_new_list_gives_a_fresh_list_per_instance() -> None:
    a, b = new_list(), new_list()
    assert a == [] and a is not b
    kw = {"rule_id": "R", "pack_id": "p", "outcome": "review", "title": "t", "message": "m"}
    f1, f2 = Finding(**kw), Finding(**kw)
    f1.notes.append("x")
    assert f2.notes == [] and f1.citations is not f2.citations
    r1, r2 = Report(decision="clear"), Report(decision="clear")
    assert r1.results == [] and r1.results is not r2.results
