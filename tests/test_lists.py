"""List importers, the local store, list-health guards, the embedded default and `ecscreen lists`."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ecscreen.cli.lists import app
from ecscreen.parties import store as L
from ecscreen.parties.store import ListError, import_list, load_default, parse_footnotes, read_list

FIX = Path(__file__).parent / "fixtures" / "lists"


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ECSCREEN_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


# --------------------------------------------------------------------------- footnotes / codes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("For all items subject to the EAR, see §§ 734.9(e)1 and 744.11 of the EAR2", [1, 2]),
        ("For all items subject to the EAR. (See §§ 734.9(g),3 746.8(a)(3), and 744.21(b) of the EAR)", [3]),
        ("For all items subject to the EAR. (See §§ 734.9(g), 3 746.8(a)(3), and 744.21(b) of the EAR.)", [3]),
        ("For all items subject to the EAR. (See §§ 734.9(e)(2) and 744.11 of the EAR)4", [4]),
        ("For all items subject to the EAR. (See §§ 734.9(e)(2) and 744.11 of the EAR) 4", [4]),
        ("For all items subject to the EAR (See §§734.4(a)(9), 734.9(e)(3), and 744.11 of the EAR)5", [5]),
        ("For all items subject to the EAR (See §§ 734.9(g), 746.8(a)(3), and 744.21(b) of the EAR)", []),
        ("For all items subject to the EAR. (See §744.11 of the EAR)", []),
        (None, []),
    ],
)
def test_parse_footnotes(text: str | None, expected: list[int]) -> None:
    assert parse_footnotes(text) == expected


def test_code_from_source() -> None:
    assert L.code_from_source("Entity List (EL) - Bureau of Industry and Security") == "EL"
    assert L.code_from_source("Non-SDN Menu-Based Sanctions List (NS-MBS List) - Treasury Department") == "NS-MBS"
    assert L.code_from_source("Military End User (MEU) List - Bureau of Industry and Security") == "MEU"


# --------------------------------------------------------------------------- importers


def test_official_csl_csv() -> None:
    sl = read_list(FIX / "csl_sample.csv")
    assert sl.format == "csl-csv"
    assert sl.info.entries == 13
    codes = sl.counts_by_code()
    assert codes["SSI"] == 3 and codes["EL"] == 1 and codes["DPL"] == 1
    uvl = next(e for e in sl.entries if e.source_code == "UVL")
    assert uvl.name == "Atlas Sanatgaran" and uvl.countries == ["AM"]
    assert len({e.id for e in sl.entries}) == 13


def test_official_csl_json() -> None:
    sl = read_list(FIX / "csl_official_subset.json")
    assert sl.format == "csl-json"
    el = next(e for e in sl.entries if e.source_code == "EL")
    assert el.countries == ["CN"] and el.footnotes == [4]
    assert el.aliases == ["Phytium Technology Co., Ltd."]
    assert el.federal_register_notice == "86 FR 18437"
    sdn = next(e for e in sl.entries if e.source_code == "SDN")
    assert sdn.id == "SDN-12345" and sdn.programs == ["IRAN"]


def test_compact_csl_json() -> None:
    sl = read_list(FIX / "csl_compact_subset.json")
    assert sl.format == "csl-compact-json"
    assert sl.info.date == dt.date(2026, 7, 31)
    smic = [e for e in sl.entries if e.name.startswith("Semiconductor Manufacturing International Corporation (SMIC)")]
    assert smic and smic[0].footnotes == [5]
    assert "SMIC Shanghai" in smic[0].aliases
    huawei = next(e for e in sl.entries if e.name == "Huawei Technologies Co., Ltd. (Huawei)")
    assert huawei.footnotes == [1, 2]
    assert huawei.license_policy and "denial" in huawei.license_policy.lower()


def test_ofac_sdn_legacy_set() -> None:
    sl = read_list(FIX / "ofac" / "sdn.csv")
    assert sl.format == "ofac-sdn"
    assert sl.info.entries == 25
    first = sl.entries[0]
    assert first.id == "SDN-36" and first.name == "AEROCARIBBEAN AIRLINES"
    assert "AERO-CARIBBEAN" in first.aliases
    assert first.countries == ["CU"]
    assert all(e.source_code == "SDN" for e in sl.entries)
    assert not any("\x1a" in e.name for e in sl.entries)


def test_un_xml() -> None:
    sl = read_list(FIX / "un_subset.xml")
    assert sl.format == "un-xml"
    assert sl.info.entries == 10
    assert sl.info.date == dt.date(2026, 2, 27)
    kinds = {e.type for e in sl.entries}
    assert kinds == {"Individual", "Entity"}
    assert all(e.id.startswith("UN-") for e in sl.entries)


def test_own_yaml_and_csv() -> None:
    sl = read_list(FIX / "own_parties.yaml")
    assert sl.format == "ecscreen-yaml"
    assert sl.info.name == "Test restricted parties"
    hw = next(e for e in sl.entries if e.id == "el-huawei")
    assert hw.footnotes == [1, 2] and hw.source_code == "EL" and "华为" in hw.aliases
    assert next(e for e in sl.entries if e.id == "el-sugon").footnotes == [4]
    assert next(e for e in sl.entries if e.id == "meu-test").source_code == "MEU"
    sc = read_list(FIX / "own_parties.csv")
    assert sc.format == "ecscreen-csv"
    acme = next(e for e in sc.entries if e.id == "c1")
    assert acme.aliases == ["Acme Rockets", "ARW Ltd"] and acme.countries == ["US", "CA"] and acme.footnotes == [4]


def test_own_yaml_rejects_unknown_key_with_line() -> None:
    with pytest.raises(ListError) as exc:
        read_list(FIX / "bad_own.yaml")
    err = exc.value
    assert err.line == 9
    assert "colour" in (err.field or "") + err.message


def test_unrecognised_file(tmp_path: Path) -> None:
    p = tmp_path / "x.json"
    p.write_text(json.dumps({"hello": 1}))
    with pytest.raises(ListError, match="unrecognised list format"):
        read_list(p)
    q = tmp_path / "x.csv"
    q.write_text("a,b\n1,2\n")
    with pytest.raises(ListError, match="no 'name' column"):
        read_list(q)


# --------------------------------------------------------------------------- store + guards


def test_import_and_store(home: Path) -> None:
    # a 134-entry CSL subset would replace the 25,921-entry embedded snapshot: only with force
    sl, warnings = import_list(FIX / "csl_compact_subset.json", "csl-test", force=True)
    assert warnings == []
    assert sl.info.forced and "embedded snapshot" in sl.info.forced
    stored = L.stored_lists()
    assert [s.info.name for s in stored] == ["csl-test"]
    assert stored[0].info.sha256 == sl.info.sha256
    assert len(stored[0].entries) == len(sl.entries)
    assert (home / "lists" / "csl-test.json.gz").is_file()


def test_health_guard_shrink_and_lost_sublist(home: Path, tmp_path: Path) -> None:
    import_list(FIX / "csl_compact_subset.json", "csl", force=True)
    data = json.loads((FIX / "csl_compact_subset.json").read_text(encoding="utf-8"))
    sources = data["tables"]["sources"]
    el = sources.index(next(s for s in sources if "(EL)" in s))
    data["entries"] = [e for e in data["entries"] if e["s"] != el]
    smaller = tmp_path / "smaller.json"
    smaller.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ListError, match=r"sub-list\(s\) missing that the stored list it replaces .* has: EL"):
        import_list(smaller, "csl", force=False)
    assert len(L.stored_lists()[0].entries) == len(read_list(FIX / "csl_compact_subset.json").entries)
    sl, warnings = import_list(smaller, "csl", force=True)
    assert sl.info.forced and "missing" in sl.info.forced and "EL (49)" in sl.info.forced
    assert L.stored_lists()[0].info.entries == sl.info.entries
    assert L.stored_lists()[0].info.forced == sl.info.forced


def test_active_lists_include_default_store_and_rules(home: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    shutil.copy(FIX / "own_parties.yaml", rules / "restricted-parties.yaml")
    (rules / "other.yaml").write_text("kind: rules\npack: {}\n")
    import_list(FIX / "un_subset.xml")
    act = L.active_lists(rules_roots=[rules])
    names = [s.info.name for s in act]
    assert names[0] == "US Consolidated Screening List"
    assert "UN SC Consolidated List" in names and "Test restricted parties" in names
    assert len(names) == 3


def test_default_list() -> None:
    sl = load_default()
    assert sl.info.entries == 25921
    assert sl.info.aliases == 31253
    assert sl.info.date == dt.date(2026, 7, 31)
    assert len(sl.info.sha256) == 64
    codes = sl.counts_by_code()
    assert codes["SDN"] == 19181 and codes["EL"] == 3420 and codes["MEU"] == 70 and codes["UVL"] == 222
    assert sum(1 for e in sl.entries if 5 in e.footnotes) >= 3
    assert load_default() is sl


def test_matcher_for_is_cached() -> None:
    sl = read_list(FIX / "own_parties.yaml")
    assert L.matcher_for([sl]) is L.matcher_for([read_list(FIX / "own_parties.yaml")])


# --------------------------------------------------------------------------- CLI


def test_cli_import_and_status(home: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["import", str(FIX / "own_parties.csv"), "--name", "sample"])
    assert res.exit_code == 0, res.output
    assert "imported 'sample'" in res.output and "2 entries" in res.output
    res = runner.invoke(app, ["status", "--json", "--as-of", "2026-08-10"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    rows = {r["name"]: r for r in doc["lists"]}
    assert rows["US Consolidated Screening List"]["age_days"] == 10
    assert rows["sample"]["entries"] == 2
    res = runner.invoke(app, ["status"])
    assert res.exit_code == 0 and "sample" in res.output


def test_cli_import_strict_refuses_shrunk_list(home: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["import", str(FIX / "csl_sample.csv"), "--name", "s", "--force"]).exit_code == 0
    lines = (FIX / "csl_sample.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    small = tmp_path / "small.csv"
    small.write_text("".join(lines[:3]), encoding="utf-8")
    res = runner.invoke(app, ["import", str(small), "--name", "s", "--strict"])
    assert res.exit_code != 0
    assert isinstance(res.exception, ListError)
    assert "--strict" in res.exception.message and res.exception.exit_code == 2


def test_imported_csl_replaces_embedded_snapshot(home: Path, tmp_path: Path) -> None:
    rules = tmp_path / "empty-rules"
    rules.mkdir()
    import_list(FIX / "csl_official_subset.json", "csl-fresh", force=True)
    names = [s.info.name for s in L.active_lists(rules_roots=[rules])]
    assert names == ["csl-fresh"]
