"""ecscreen gate: product x market screening, licences, classification gaps, waivers, examples/ci."""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ecscreen.cli.main import app, main
from ecscreen.engine.core import Engine
from ecscreen.packs.registry import load_registry
from ecscreen.runners.gate import (
    GAP_RULE_ID,
    Catalog,
    Product,
    WaiverFile,
    classification_gap,
    gap_criteria,
    run_gate,
)

ROOT = Path(__file__).resolve().parents[1]
FX = ROOT / "tests" / "fixtures" / "gate"
CI = ROOT / "examples" / "ci"
PACKS = [ROOT / "rules" / "us-ear" / n for n in ("country-groups.yaml", "embargoes.yaml", "advanced-computing.yaml")]
RULES = [a for p in PACKS for a in ("--rules-only", str(p))]
AS_OF = ["--as-of", "2026-07-01"]
runner = CliRunner()


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.build(load_registry(PACKS), use_lists=False, today=dt.date.today())


def _json(args: list[str]) -> tuple[int, dict]:
    r = runner.invoke(app, ["gate", *args, "--format", "json"])
    return r.exit_code, json.loads(r.stdout)


def _pair(rep: dict, subject: str) -> dict:
    return next(p for p in rep["pairs"] if p["subject"] == subject)


# --------------------------------------------------------------------------- examples/ci


def test_example_failing_state_fails():
    code, rep = _json([str(CI / "catalog-failing.yaml"), "--waivers", str(CI / ".ecscreen-waivers.yaml"), *AS_OF])
    assert code == 1 and rep["status"] == "fail"
    cn = _pair(rep, "GPU-DC-80@CN")
    assert cn["status"] == "fail" and cn["decision"] == "license_required"
    f = next(f for f in cn["findings"] if f["rule_id"] == "AC-3A090A-2023")
    assert f["covered_by"] is None and "China (CN)" in f["message"]
    assert {c["ref"] for c in f["citations"]} >= {"15 CFR 742.6(a)(6)(iii)", "88 FR 73458"}
    assert all(_pair(rep, f"PLC-200@{m}")["status"] == "pass" for m in ("DE", "MX", "BR"))
    assert len(rep["pairs"]) == 8


def test_example_passing_state_passes():
    code, rep = _json([str(CI / "catalog-passing.yaml"), "--waivers", str(CI / ".ecscreen-waivers.yaml"), *AS_OF])
    assert code == 0 and rep["status"] == "pass"
    cn = _pair(rep, "GPU-DC-80@CN")
    f = next(f for f in cn["findings"] if f["rule_id"] == "AC-3A090A-2023")
    assert f["covered_by"]["kind"] == "license" and f["covered_by"]["ref"] == "D1234567"
    gap = next(f for f in _pair(rep, "NPU-EDGE-1@DE")["findings"] if f["rule_id"] == GAP_RULE_ID)
    assert gap["covered_by"]["kind"] == "waiver" and "CCATS" in gap["covered_by"]["detail"]
    assert [w["state"] for w in rep["waivers"]] == ["used"]


def test_example_workflow_commands_run(tmp_path):
    """Every `ecscreen gate` command of the GitHub Actions workflow runs on the sample catalogs."""
    wf = yaml.safe_load((CI / "ecscreen-gate.yml").read_text())
    steps = wf["jobs"]["gate"]["steps"]
    cmds = [line.strip() for s in steps for line in s.get("run", "").splitlines()
            if line.strip().startswith("ecscreen gate")]
    assert len(cmds) == 3
    for state, want in (("failing", 1), ("passing", 0)):
        for cmd in cmds:
            args = shlex.split(cmd)[1:]
            args = [str(CI / f"catalog-{state}.yaml") if a == "catalog/products.yaml" else a for a in args]
            args = [str(tmp_path / a) if a.startswith("ecscreen") and "." in a else a for a in args]
            r = runner.invoke(app, [*args, "--waivers", str(CI / ".ecscreen-waivers.yaml"), *AS_OF])
            assert r.exit_code == want, (cmd, r.stderr)
        assert (tmp_path / "ecscreen.sarif").exists() and (tmp_path / "ecscreen-junit.xml").exists()
        assert "ecscreen gate" in (tmp_path / "ecscreen.md").read_text()


def test_example_workflow_installs_from_the_repository_not_pypi():
    """The package is not on PyPI: `pip install ecscreen` would install someone else's package."""
    wf = yaml.safe_load((CI / "ecscreen-gate.yml").read_text())
    installs = [s for s in wf["jobs"]["gate"]["steps"] if "pip install" in s.get("run", "")]
    assert len(installs) == 1
    run = installs[0]["run"]
    assert "git+" in run and "@${ECSCREEN_REF}" in run
    for line in run.splitlines():
        args = shlex.split(line)
        if args[:2] == ["pip", "install"]:
            assert all(a.split("[")[0].strip().lower() != "ecscreen" for a in args[2:]), line


def test_example_pre_commit_hook_entry_runs(tmp_path):
    hooks = yaml.safe_load((CI / ".pre-commit-hooks.yaml").read_text())
    assert hooks[0]["id"] == "ecscreen-gate" and hooks[0]["pass_filenames"] is True
    entry = shlex.split(hooks[0]["entry"])
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    if not (Path(sys.executable).parent / "ecscreen").exists():
        # run the console script through the interpreter when it is not installed as a script
        shim = tmp_path / "ecscreen"
        shim.write_text(f"#!/bin/sh\nexec {sys.executable} -c 'import sys; from ecscreen.cli.main import main; "
                        f"sys.exit(main())' \"$@\"\n")
        shim.chmod(0o755)
        env["PATH"] = f"{tmp_path}{os.pathsep}{env['PATH']}"
    res = subprocess.run([*entry, str(CI / "catalog-failing.yaml")], capture_output=True, text=True, env=env,
                         cwd=CI, timeout=300)
    assert res.returncode == 1, res.stderr
    assert "GPU-DC-80" in res.stdout


# --------------------------------------------------------------------------- gate semantics


def test_csv_catalog_licence_and_market_names():
    code, rep = _json([str(FX / "catalog.csv"), *RULES, *AS_OF, "--waivers", str(FX / "waivers.yaml")])
    subjects = [p["subject"] for p in rep["pairs"]]
    assert subjects == ["GPU-DC-80@DE", "GPU-DC-80@CN", "GPU-DC-80@MO", "NPU-EDGE-1@FR", "PLC-200@DE", "PLC-200@MX"]
    cn = _pair(rep, "GPU-DC-80@CN")
    assert cn["status"] == "pass" and cn["findings"][0]["covered_by"]["ref"] == "D7654321"
    mo = _pair(rep, "GPU-DC-80@MO")  # "Macau" market, waiver subject written "GPU-DC-80@Macau"
    assert mo["status"] == "pass" and mo["findings"][0]["covered_by"]["kind"] == "waiver"
    assert mo["market"] == "Macau" and mo["market_code"] == "MO" and mo["line"] == 2
    states = {w["rule"]: w for w in rep["waivers"]}
    assert states["AC-*"]["state"] == "used" and states["AC-*"]["matched"] == ["GPU-DC-80@MO"]
    assert states["CLASSIFICATION-GAP"]["state"] == "expired"
    assert states["EMB-CU"]["state"] == "unused"
    npu = _pair(rep, "NPU-EDGE-1@FR")  # expired waiver: the gap is reported again (review, below fail-on)
    assert npu["decision"] == "review" and npu["findings"][0]["covered_by"] is None
    assert any("expired on 2026-01-31" in w for w in rep["warnings"])
    assert any("EMB-CU" in w and "unused" in w for w in rep["warnings"])
    assert code == 0


def test_without_waiver_the_pair_fails(engine):
    rep = run_gate(FX / "catalog.csv", engine, as_of=dt.date(2026, 7, 1))
    assert rep.status == "fail" and rep.exit_code == 1
    assert [p.subject for p in rep.pairs if p.status == "fail"] == ["GPU-DC-80@MO"]


def test_expired_licence_does_not_cover(engine):
    rep = run_gate(FX / "catalog.csv", engine, as_of=dt.date(2028, 1, 1))
    assert _pair(rep.model_dump(mode="json"), "GPU-DC-80@CN")["status"] == "fail"


def test_fail_on_review_fails_on_classification_gap():
    code, rep = _json([str(CI / "catalog-failing.yaml"), *RULES, *AS_OF, "--fail-on", "review"])
    fails = {p["subject"] for p in rep["pairs"] if p["status"] == "fail"}
    assert {"NPU-EDGE-1@DE", "NPU-EDGE-1@FR", "GPU-DC-80@CN"} <= fails and code == 1
    code, rep = _json([str(CI / "catalog-failing.yaml"), *RULES, *AS_OF, "--fail-on", "prohibited"])
    assert code == 0 and rep["status"] == "pass"


def test_classification_gap_is_pack_driven(engine):
    crit = gap_criteria(engine.registry)
    on = dt.date(2026, 7, 1)
    gap = classification_gap(Product(sku="X", description="Accelerator card", eccn="EAR99",
                                     parameters={"tpp": 5000}, markets=["DE"]), crit, on)
    assert gap is not None and gap.outcome.value == "review" and gap.rule_id == GAP_RULE_ID
    assert "3A090.a" in gap.message and "AC-3A090A-2023" in gap.message and "tpp = 5000" in gap.message
    assert any(c.ref == "15 CFR 742.6(a)(6)(iii)" for c in gap.citations)
    assert any(e.field == "parameters.tpp" and e.value == 5000 for e in gap.evidence)
    # classified, or below every threshold, or no facts pointing at the category: no gap
    assert classification_gap(Product(sku="X", description="Accelerator card", eccn="3A090.a",
                                      parameters={"tpp": 5000}, markets=["DE"]), crit, on) is None
    assert classification_gap(Product(sku="X", description="Pump", eccn=None, parameters={"tpp": 10},
                                      markets=["DE"]), crit, on) is None
    assert classification_gap(Product(sku="X", description="Pump", markets=["DE"]), crit, on) is None
    # before the rules were in force there is no criterion to meet
    assert classification_gap(Product(sku="X", description="Card", eccn="EAR99", parameters={"tpp": 5000},
                                      markets=["DE"]), crit, dt.date(2020, 1, 1)) is None


def test_catalog_errors_fail_closed(capsys):
    code = main(["gate", str(FX / "catalog-errors.yaml"), *RULES, *AS_OF, "--format", "json"])
    assert code == 3
    cap = capsys.readouterr()
    rep = json.loads(cap.out)
    assert rep["status"] == "error"
    errs = {(e["line"], e["field"]) for e in rep["errors"]}
    assert (6, "products[1].markets") in errs and (9, "products[2].markets") in errs
    atl = _pair(rep, "OK-1@Atlantis")
    assert atl["status"] == "error" and "unknown destination 'Atlantis'" in atl["errors"][0]
    assert _pair(rep, "OK-1@DE")["status"] == "pass"
    assert "catalog-errors.yaml:6" in cap.err


def test_usage_errors(tmp_path, capsys):
    cat = str(CI / "catalog-failing.yaml")
    assert main(["gate", str(tmp_path / "none.yaml")]) == 2
    assert main(["gate", cat, "--format", "pdf"]) == 2
    assert main(["gate", cat, "--fail-on", "maybe"]) == 2
    assert main(["gate", cat, "--waivers", str(tmp_path / "none.yaml")]) == 2
    bad = tmp_path / "w.yaml"
    bad.write_text("waivers:\n  - rule: X\n    subject: A@B\n    reason: r\n    approver: a\n")
    assert main(["gate", cat, "--waivers", str(bad)]) == 3
    assert "w.yaml:2" in capsys.readouterr().err
    notcat = tmp_path / "c.yaml"
    notcat.write_text("items: []\n")
    assert main(["gate", str(notcat)]) == 3


def test_default_waivers_file_in_cwd(tmp_path, monkeypatch):
    (tmp_path / ".ecscreen-waivers.yaml").write_text(
        "waivers:\n  - rule: AC-3A090A-2023\n    subject: GPU-DC-80@CN\n    reason: test\n    approver: me\n"
        "    expires: 2026-12-31\n")
    monkeypatch.chdir(tmp_path)
    code, rep = _json([str(CI / "catalog-failing.yaml"), *RULES, *AS_OF])
    assert code == 0 and rep["waivers_file"] == ".ecscreen-waivers.yaml"
    assert _pair(rep, "GPU-DC-80@CN")["findings"][0]["covered_by"]["kind"] == "waiver"


def test_schemas_for_catalog_and_waivers():
    for name, model in (("catalog", Catalog), ("waivers", WaiverFile)):
        r = runner.invoke(app, ["schema", name])
        assert r.exit_code == 0 and json.loads(r.stdout) == json.loads(json.dumps(model.model_json_schema()))
    data = yaml.safe_load((CI / "catalog-passing.yaml").read_text())
    assert len(Catalog.model_validate(data).products) == 3
    assert WaiverFile.model_validate(yaml.safe_load((CI / ".ecscreen-waivers.yaml").read_text())).waivers


def test_table_format_to_file(tmp_path):
    out = tmp_path / "gate.txt"
    r = runner.invoke(app, ["gate", str(CI / "catalog-failing.yaml"), *RULES, *AS_OF, "--out", str(out)])
    assert r.exit_code == 1 and r.stdout == ""
    text = out.read_text()
    assert "GPU-DC-80@CN" in text and "AC-3A090A-2023" in text and "FAIL" in text
