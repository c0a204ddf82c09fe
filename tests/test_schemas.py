"""The JSON Schemas published in schemas/ are current, and example inputs validate against them."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml

from ecscreen.cli.main import _schema_models

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "schemas"


def test_published_schemas_are_current():
    models = _schema_models()
    assert {"shipment", "report", "pack"} <= set(models)
    stale = []
    for name, model in models.items():
        p = SCHEMAS / f"{name}.schema.json"
        want = json.dumps(model.model_json_schema(by_alias=True), indent=2) + "\n"
        if not p.exists() or p.read_text("utf-8") != want:
            stale.append(name)
    assert not stale, f"regenerate with `ecscreen schema --out schemas`: {stale}"


def test_examples_validate_against_shipment_schema():
    schema = json.loads((SCHEMAS / "shipment.schema.json").read_text("utf-8"))
    for p in [ROOT / "examples" / "gpu-to-china.yaml", ROOT / "examples" / "crimea.yaml"]:
        doc = yaml.safe_load(p.read_text("utf-8"))
        doc["date"] = str(doc["date"])
        jsonschema.validate(doc, schema)


def test_packs_validate_against_pack_schema():
    schema = json.loads((SCHEMAS / "pack.schema.json").read_text("utf-8"))
    doc = yaml.safe_load((ROOT / "rules" / "us-ear" / "embargoes.yaml").read_text("utf-8"))
    jsonschema.validate(json.loads(json.dumps(doc, default=str)), schema)
