"""List integrity (issue 12 "Lists"): guarded imports, verified stored lists, a readable store, atomic
locked writes, clean one-line errors. Each test is named after the defect it pins."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ecscreen.cli import main as cli
from ecscreen.cli.lists import app
from ecscreen.model import Outcome, Party, PartyRole
from ecscreen.parties import store as L
from ecscreen.parties.screening import screen_parties
from ecscreen.parties.store import ListError, import_list, read_list

FIX = Path(__file__).parent / "fixtures" / "lists"
AS_OF = dt.date(2026, 8, 15)
HEADER = (FIX / "csl_sample.csv").read_text(encoding="utf-8").splitlines()[0]


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ECSCREEN_HOME", str(tmp_path / "home"))
    L.refresh()
    return tmp_path / "home"


def _one_row_csl(tmp_path: Path) -> Path:
    row = (FIX / "csl_sample.csv").read_text(encoding="utf-8").splitlines()[2]
    p = tmp_path / "consolidated.csv"
    p.write_text(HEADER + "\n" + row + "\n", encoding="utf-8")
    return p


def _decision(name: str) -> Outcome:
    res = screen_parties([Party(role=PartyRole.end_user, name=name)], as_of=AS_OF)
    return Outcome.worst([f.outcome for f in res.findings])


def _run_main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


# --------------------------------------------------------------------------- guards


def test_one_row_csl_with_official_header_is_refused_and_listed_parties_stay_flagged(
    home: Path, tmp_path: Path
) -> None:
    one = _one_row_csl(tmp_path)
    res = CliRunner().invoke(app, ["import", str(one)])
    assert isinstance(res.exception, ListError) and res.exception.exit_code == 2
    msg = res.exception.message
    assert "import refused" in msg and "embedded snapshot" in msg and "25921" in msg and "--force" in msg
    assert not (home / "lists").exists() or not list((home / "lists").glob("*.json.gz"))
    names = [sl.info.name for sl in L.active_lists(rules_roots=[])]
    assert names == ["US Consolidated Screening List"]
    for name in ("Mahan Air", "Rosoboronexport", "Bank Melli"):
        assert _decision(name) != Outcome.clear, name


def test_truncated_csl_file_is_refused(home: Path, tmp_path: Path) -> None:
    text = (FIX / "csl_sample.csv").read_text(encoding="utf-8")
    cut = tmp_path / "consolidated.csv"
    cut.write_text(text[: len(text) // 2], encoding="utf-8")  # cut in the middle of a row
    with pytest.raises(ListError, match="import refused"):
        import_list(cut)
    assert L.stored_lists() == []


def test_forced_import_is_recorded_in_status_and_reports(home: Path, tmp_path: Path) -> None:
    one = _one_row_csl(tmp_path)
    res = CliRunner().invoke(app, ["import", str(one), "--force"])
    assert res.exit_code == 0, res.output
    assert "accepted with --force" in res.output
    doc = json.loads(CliRunner().invoke(app, ["status", "--json"]).output)
    forced = [r for r in doc["lists"] if r["forced"]]
    assert len(forced) == 1 and "embedded snapshot" in forced[0]["forced"]
    table = CliRunner().invoke(app, ["status"]).output
    assert "FORCED" in table
    rep = screen_parties([Party(role=PartyRole.end_user, name="Nobody Inc")], as_of=AS_OF)
    assert any(i.forced for i in rep.lists)


def test_replacing_a_stored_list_by_a_much_smaller_one_is_refused(home: Path, tmp_path: Path) -> None:
    import_list(FIX / "ofac" / "sdn.csv", "sdn")
    rows = (FIX / "ofac" / "sdn.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    d = tmp_path / "small"
    d.mkdir()
    (d / "sdn.csv").write_text("".join(rows[:5]), encoding="utf-8")
    with pytest.raises(ListError, match=r"5 entries against 25 in the stored list it replaces"):
        import_list(d / "sdn.csv", "sdn")
    assert L.stored_lists()[0].info.entries == 25


def test_health_guard_tolerates_a_normal_update() -> None:
    old = read_list(FIX / "ofac" / "sdn.csv")
    new = read_list(FIX / "ofac" / "sdn.csv")
    new.entries = new.entries[:-1] + [new.entries[-1]]
    refusals, warnings = L.list_health(old, new, "x")
    assert refusals == [] and warnings == []


# --------------------------------------------------------------------------- verification on load


def _rewrite_store(path: Path, edit) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(gzip.decompress(path.read_bytes()))
    edit(doc)
    path.write_bytes(gzip.compress(json.dumps(doc).encode()))


def test_stored_list_with_entries_emptied_is_an_error_not_an_empty_list(home: Path) -> None:
    import_list(FIX / "ofac" / "sdn.csv", "sdn")
    target = home / "lists" / "sdn.json.gz"
    _rewrite_store(target, lambda d: d.__setitem__("entries", []))
    L.refresh()
    with pytest.raises(ListError, match="records 25 entries but holds 0"):
        L.stored_lists()
    with pytest.raises(ListError):
        screen_parties([Party(role=PartyRole.end_user, name="Acme")], as_of=AS_OF)


def test_stored_list_with_an_edited_entry_fails_its_hash(home: Path) -> None:
    import_list(FIX / "ofac" / "sdn.csv", "sdn")
    target = home / "lists" / "sdn.json.gz"
    _rewrite_store(target, lambda d: d["entries"][0].__setitem__("name", "SOMEONE ELSE"))
    L.refresh()
    with pytest.raises(ListError, match="do not match the recorded sha256"):
        L.stored_lists()


def test_truncated_stored_list_prints_a_real_message_not_aborted(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import_list(FIX / "ofac" / "sdn.csv", "sdn")
    target = home / "lists" / "sdn.json.gz"
    raw = target.read_bytes()
    target.write_bytes(raw[: len(raw) // 2])
    L.refresh()
    code, out, err = _run_main(["lists", "status"], capsys)
    assert code == 3
    assert "Aborted" not in out + err
    assert "truncated" in err and str(target) in err
    assert len(err.strip().splitlines()) == 1


def test_unreadable_store_directory_is_an_error_naming_it(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_list(FIX / "ofac" / "sdn.csv", "sdn")
    real = os.listdir

    def denied(path):  # type: ignore[no-untyped-def]
        if Path(path) == home / "lists":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(L.os, "listdir", denied)
    with pytest.raises(ListError) as exc:
        L.active_lists(rules_roots=[])
    assert str(home / "lists") in str(exc.value) and "Permission denied" in str(exc.value)


def test_store_path_that_is_a_file_is_an_error(home: Path) -> None:
    home.mkdir(parents=True)
    (home / "lists").write_text("not a directory")
    with pytest.raises(ListError, match="not a directory"):
        L.stored_lists()


# --------------------------------------------------------------------------- writes


def test_concurrent_imports_of_the_same_name_do_not_collide(home: Path) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def work() -> None:
        try:
            barrier.wait()
            for _ in range(3):
                import_list(FIX / "own_parties.yaml", "same")
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    files = sorted(p.name for p in (home / "lists").iterdir())
    assert files == [".lock", "same.json.gz"]
    assert L.stored_lists()[0].info.entries == read_list(FIX / "own_parties.yaml").info.entries


def test_atomic_write_uses_unique_temporary_names(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    real = L.os.replace

    def spy(src, dst):  # type: ignore[no-untyped-def]
        seen.append(str(src))
        return real(src, dst)

    monkeypatch.setattr(L.os, "replace", spy)
    import_list(FIX / "own_parties.yaml", "same")
    import_list(FIX / "own_parties.yaml", "same")
    assert len(seen) == 2 and seen[0] != seen[1]
    assert all(Path(s).parent == home / "lists" and s.endswith(".tmp") for s in seen)


def test_import_into_unwritable_home_is_one_line_no_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("ECSCREEN_HOME", str(blocker / "home"))
    code, out, err = _run_main(["lists", "import", str(FIX / "own_parties.yaml")], capsys)
    assert code == 3
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "cannot write the list store" in err and str(blocker / "home" / "lists") in err


def test_markup_in_list_name_does_not_crash_status(home: Path, tmp_path: Path) -> None:
    src = (FIX / "own_parties.yaml").read_text(encoding="utf-8")
    p = tmp_path / "weird.yaml"
    p.write_text(src.replace("name: Test restricted parties", "name: '[/] [bold]x[/bold] [red'", 1), encoding="utf-8")
    sl, _ = import_list(p)
    assert sl.info.name == "[/] [bold]x[/bold] [red"
    res = CliRunner().invoke(app, ["status"])
    assert res.exit_code == 0, res.output
    assert "[/]" in res.output


# --------------------------------------------------------------------------- snapshot label


def test_embedded_snapshot_is_labelled_with_date_and_limits(home: Path) -> None:
    snap = L.load_default()
    assert snap.info.origin == "snapshot" and snap.info.addresses == 0
    assert any("no street addresses" in x for x in snap.info.limits)
    doc = json.loads(CliRunner().invoke(app, ["status", "--json"]).output)
    row = doc["lists"][0]
    assert row["origin"] == "snapshot" and row["date"] == "2026-07-31"
    assert any("snapshot" in x for x in row["limits"])
    rep = screen_parties([Party(role=PartyRole.end_user, name="Nobody Inc")], as_of=AS_OF)
    assert rep.lists[0].origin == "snapshot" and rep.lists[0].limits
