"""The screening context (issue 10 item 1): built once, explicitly; ``screen(shipment, ctx)`` reads no
environment, no clock and writes no module state."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from ecscreen.engine.context import ScreeningContext, lists_for, screen, screen_report
from ecscreen.engine.core import Engine
from ecscreen.model import Shipment
from ecscreen.parties.matching import AllowList, Clearance
from ecscreen.parties.store import read_list
from ecscreen.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
FIX = Path(__file__).resolve().parent / "fixtures" / "lists"
TODAY = dt.date(2026, 10, 1)


def _ship(**kw: object) -> Shipment:
    doc = {"destination": "CN", "items": [{"description": "Data-center GPU accelerator", "eccn": "3A090.a"}],
           "parties": [{"role": "end_user", "name": "NSO Group", "country": "IL"}], **kw}
    return Shipment.model_validate(doc)


@pytest.fixture(scope="module")
def own_lists(registry) -> list:
    return [read_list(FIX / "own_parties.yaml")]


def _result_json(r: object) -> str:
    return r.model_dump_json()  # type: ignore[attr-defined]


def test_screen_reads_no_environment(registry, own_lists, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every ECSCREEN_* variable set to something that would change or break a run: the context's result
    does not move (the settings are read when the context is built, by the CLI / API, not by screen)."""
    ctx = ScreeningContext.build(registry, today=TODAY, lists=own_lists, cache_dir=None)
    before = _result_json(screen(_ship(), ctx))
    clear = tmp_path / "c.yaml"
    clear.write_text("kind: party_clearances\nclearances:\n"
                     "  - {party: NSO Group, entry_id: el-nso, reason: x, approver: y, expires: 2030-01-01}\n",
                     encoding="utf-8")
    monkeypatch.setenv("ECSCREEN_CLEARANCES", str(clear))
    monkeypatch.setenv("ECSCREEN_LIST_MAX_AGE_DAYS", "1")
    monkeypatch.setenv("ECSCREEN_HOME", str(tmp_path / "nowhere"))
    monkeypatch.setenv("ECSCREEN_CACHE_DIR", str(tmp_path / "nocache"))
    assert _result_json(screen(_ship(), ctx)) == before
    assert not (tmp_path / "nocache").exists()


def test_undated_shipment_screened_at_the_contexts_today(registry) -> None:
    """No clock below the CLI: an undated shipment is screened at the context's ``today``; an engine
    given no date at all refuses instead of reading the clock."""
    ctx = ScreeningContext.build(registry, today=dt.date(2023, 1, 2), use_lists=False)
    assert screen(_ship(parties=[]), ctx).as_of == dt.date(2023, 1, 2)
    assert screen(_ship(parties=[], date="2026-10-01"), ctx).as_of == dt.date(2026, 10, 1)
    fixed = ScreeningContext.build(registry, today=dt.date(2023, 1, 2), as_of=TODAY, use_lists=False)
    assert screen(_ship(parties=[], date="2024-01-01"), fixed).as_of == TODAY
    bare = Engine.build(registry, use_lists=False)
    with pytest.raises(ValueError, match="no date"):
        bare.screen_one(_ship(parties=[]))


def test_two_contexts_in_one_process_do_not_share_state(registry, own_lists) -> None:
    """Clearances and staleness limits belong to a context: a second context with other grants does not
    change the first one's results or report (no module global carries the last run's lists)."""
    plain = ScreeningContext.build(registry, today=TODAY, lists=own_lists)
    allow = AllowList([Clearance(party="NSO Group", entry_id="el-nso", reason="other firm", approver="C",
                                 expires=dt.date(2030, 1, 1))])
    cleared = ScreeningContext.build(registry, today=TODAY, lists=own_lists, clearances=allow, max_age_days=10_000)
    a1 = screen(_ship(), plain)
    b = screen(_ship(), cleared)
    a2 = screen(_ship(), plain)
    assert _result_json(a1) == _result_json(a2)
    nso = [f for f in a1.findings if f.rule_id.startswith("PARTY-")]
    assert nso and all(f.covered_by is None for f in nso)
    assert any(f.covered_by is not None and f.covered_by.kind == "clearance" for f in b.findings)
    r_plain = screen_report([("a", _ship())], plain)
    r_cleared = screen_report([("b", _ship())], cleared)
    assert any("older than" in w for w in r_plain.warnings)
    assert not any("older than" in w for w in r_cleared.warnings)


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env = {"ECSCREEN_HOME": str(tmp_path / "h"), "ECSCREEN_CACHE_DIR": str(tmp_path / "c"),
           "ECSCREEN_LIST_MAX_AGE_DAYS": "90", "ECSCREEN_CLEARANCES": f"{tmp_path / 'a.yaml'}:{tmp_path / 'b.yaml'}",
           "ECSCREEN_LIST_SOURCES": str(tmp_path / "s.yaml")}
    s = Settings.from_env(env)
    assert s.home == tmp_path / "h" and s.cache_dir == tmp_path / "c" and s.max_age_days == 90
    assert s.clearances == (tmp_path / "a.yaml", tmp_path / "b.yaml") and s.list_sources == tmp_path / "s.yaml"
    assert Settings.from_env({**env, "ECSCREEN_NO_CACHE": "yes"}).cache_dir is None
    assert Settings.from_env({"XDG_CACHE_HOME": str(tmp_path / "x")}).cache_dir == tmp_path / "x" / "ecscreen"
    assert Settings.from_env({"ECSCREEN_LIST_MAX_AGE_DAYS": "soon"}).max_age_days is None


def test_lists_for_takes_the_store_from_the_caller(registry, tmp_path: Path) -> None:
    """The list store comes from the settings the caller passes (home=None: no store, embedded list only)."""
    names = [sl.info.name for sl in lists_for(registry, home=None, cache_dir=None)]
    assert names and any("Consolidated" in n for n in names)
    assert lists_for(registry, home=tmp_path / "empty-home", cache_dir=None)[0].info.name == names[0]


def test_only_settings_and_cli_read_environment_clock_or_home() -> None:
    """Below the entry layers (the CLI and the HTTP service), only ecscreen/settings.py reads os.environ,
    the clock or the home directory."""
    src = ROOT / "src" / "ecscreen"
    pattern = re.compile(r"os\.environ|os\.getenv|date\.today\(\)|datetime\.now\(|Path\.home\(\)")
    offenders = [f"{p.relative_to(src)}:{n}" for p in sorted(src.rglob("*.py"))
                 if p.parts[len(src.parts)] not in ("cli", "service") and p.name != "settings.py"
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if pattern.search(line) and not line.lstrip().startswith("#")]
    assert offenders == []


def test_readme_context_example_runs() -> None:
    """The README's ScreeningContext example, as written."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "ScreeningContext.build" in b)
    ns: dict[str, object] = {}
    exec(compile(block.replace("screen(Shipment", "result = screen(Shipment", 1), "README", "exec"), ns)
    assert ns["result"] == "license_required"
