"""Re-screening recorded parties against changed lists (issue 15 item 4): the runner on a real record store
(SQLite in tmp_path) and a real own-format list, before and after the list gains an entry."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ecscreen.model import Outcome, Party, PartyRole
from ecscreen.parties.matching import AllowList, Clearance
from ecscreen.parties.screening import screen_parties
from ecscreen.parties.store import read_list
from ecscreen.records import NewRecord, PartyRef, RecordStore
from ecscreen.runners.rescreen import (
    CLEAR_STATE,
    Occurrence,
    PartyState,
    group_parties,
    party_states,
    recorded_parties,
    rescreen,
    worse_reasons,
)

AS_OF = dt.date(2026, 10, 1)
AT = dt.datetime(2026, 9, 1, 9, 0, tzinfo=dt.UTC)

LIST_HEAD = """kind: party_list
name: Test watch list
source: test
date: 2026-09-01
source_code: SDN
entries:
  - id: T-1
    name: Orion Precision Optics LLC
    countries: [RU]
"""
ADDED = """  - id: T-2
    name: Zyxtronic Quantum Devices Ltd
    countries: [CN]
"""


def _list(tmp_path: Path, text: str, name: str) -> object:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return read_list(p)


def _record(store: RecordStore, parties: list[Party], lists: list, at: dt.datetime = AT) -> int:
    """Record a screening of ``parties`` against ``lists`` the way the CLI records one."""
    ps = screen_parties(parties, as_of=at.date(), lists=lists, allowlist=AllowList())
    findings = [f.model_dump(mode="json") for f in ps.findings]
    states = party_states(ps.findings)
    refs = [PartyRef(name=p.name, country=p.country, role=p.role.value,
                     outcome=states.get(i, CLEAR_STATE).outcome.value) for i, p in enumerate(parties)]
    decision = Outcome.worst([Outcome(f.outcome) for f in ps.findings]).value
    return store.append_screenings([NewRecord(command="check", source="test.yaml:1", input={
        "destination": "CN", "parties": [p.model_dump(mode="json") for p in parties]},
        decision=decision, findings=findings, parties=refs)], at=at)[0]


@pytest.fixture()
def store(tmp_path: Path):
    s = RecordStore.open(None, tmp_path / "home")
    yield s
    s.close()


def test_worse_reasons_new_hit_band_and_outcome() -> None:
    before = PartyState(Outcome.review, 1, frozenset({"A"}))
    assert worse_reasons(before, before) == []
    assert worse_reasons(before, PartyState(Outcome.review, 1, frozenset())) == []  # better is not worse
    now = PartyState(Outcome.prohibited, 2, frozenset({"A", "B"}))
    assert worse_reasons(before, now) == ["new hit: B", "band possible -> strong", "outcome review -> prohibited"]
    # a party not screened against lists then: any hit now is new
    assert worse_reasons(None, PartyState(Outcome.review, 1, frozenset({"C"})))[0] == "new hit: C"


def test_rescreen_reports_the_party_a_new_entry_hits_with_its_records(tmp_path: Path, store: RecordStore) -> None:
    old = _list(tmp_path, LIST_HEAD, "old.yaml")
    new = _list(tmp_path, LIST_HEAD + ADDED, "new.yaml")
    zyx = Party(role=PartyRole.end_user, name="Zyxtronic Quantum Devices Ltd", country="CN")
    orion = Party(role=PartyRole.consignee, name="Orion Precision Optics LLC", country="RU")
    plain = Party(role=PartyRole.purchaser, name="Acme Widgets Inc", country="US")
    r1 = _record(store, [zyx, plain], [old])
    r2 = _record(store, [plain, orion], [old])
    r3 = _record(store, [Party(role=PartyRole.end_user, name="ZYXTRONIC  quantum devices LTD", country="cn")], [old])
    parties = recorded_parties(store)
    # distinct by normalised name and country: the two spellings of Zyxtronic are one party
    assert len(parties) == 3
    assert sum(len(p.occurrences) for p in parties) == 5
    # Orion was already a hit when recorded: its recorded state names the entry
    orion_rec = next(p for p in parties if p.name.startswith("Orion"))
    assert orion_rec.occurrences[0].state is not None and "T-1" in orion_rec.occurrences[0].state.entries

    result = rescreen(parties, as_of=AS_OF, lists=[new])
    assert result.parties == 3 and result.occurrences == 5
    assert [w.name.casefold().split() for w in result.worsened] == [["zyxtronic", "quantum", "devices", "ltd"]]
    w = result.worsened[0]
    assert w.record_ids == [r1, r3]
    assert w.reasons[0] == "new hit: T-2"
    assert w.now.entries == frozenset({"T-2"})
    assert result.records == [r1, r3] and r2 not in result.records
    doc = result.to_json()
    assert doc["worsened"] == 1 and doc["records_affected"] == 2
    assert doc["parties"][0]["hits"][0]["rule_id"] == "PARTY-SDN"

    # nothing changed against the list the parties were recorded with
    assert rescreen(parties, as_of=AS_OF, lists=[old]).worsened == []


def test_rescreen_window_and_clearance(tmp_path: Path, store: RecordStore) -> None:
    old = _list(tmp_path, LIST_HEAD, "old.yaml")
    new = _list(tmp_path, LIST_HEAD + ADDED, "new.yaml")
    zyx = Party(role=PartyRole.end_user, name="Zyxtronic Quantum Devices Ltd", country="CN")
    early = _record(store, [zyx], [old], at=AT - dt.timedelta(days=200))
    late = _record(store, [zyx], [old])
    # --since keeps the later record only
    parties = recorded_parties(store, since=dt.date(2026, 6, 1))
    assert [o.record_id for p in parties for o in p.occurrences] == [late]
    assert rescreen(parties, as_of=AS_OF, lists=[new]).records == [late]
    assert early not in rescreen(parties, as_of=AS_OF, lists=[new]).records
    # a cleared (party, entry) pair is covered: not worse
    allow = AllowList([Clearance(party="Zyxtronic Quantum Devices Ltd", entry_id="T-2", reason="different company",
                                 approver="qa", country="CN")])
    assert rescreen(parties, as_of=AS_OF, lists=[new], allowlist=allow).worsened == []
    # an expired clearance covers nothing
    expired = AllowList([Clearance(party="Zyxtronic Quantum Devices Ltd", entry_id="T-2", reason="x", approver="qa",
                                   expires=dt.date(2026, 1, 1))])
    assert len(rescreen(parties, as_of=AS_OF, lists=[new], allowlist=expired).worsened) == 1


def test_rescreen_parallel_equals_serial(tmp_path: Path) -> None:
    new = _list(tmp_path, LIST_HEAD + ADDED, "new.yaml")
    rows = [(f"Customer {i} Trading Ltd", "DE", None, Occurrence(i, 0, CLEAR_STATE)) for i in range(1200)]
    rows.append(("Zyxtronic Quantum Devices Ltd", "CN", None, Occurrence(5000, 0, CLEAR_STATE)))
    parties = group_parties(rows)
    serial = rescreen(parties, as_of=AS_OF, lists=[new], workers=1)
    parallel = rescreen(parties, as_of=AS_OF, lists=[new], workers=2)
    assert serial.to_json() == parallel.to_json()
    assert [w.record_ids for w in serial.worsened] == [[5000]]


def test_batch_style_records_compare_by_recorded_outcome(tmp_path: Path, store: RecordStore) -> None:
    """Records whose findings carry no evidence (batch) keep the party's outcome only: the recorded
    outcome and band are compared, not entry ids (no false 'new hit' for a hit known at the time)."""
    new = _list(tmp_path, LIST_HEAD + ADDED, "new.yaml")

    def rec(outcome: str) -> int:
        return store.append_screenings([NewRecord(
            command="batch", source="orders.csv:2", input={"header": [], "rows": []}, decision=outcome,
            findings=[{"line": 2, "rule_id": "PARTY-SDN", "outcome": outcome, "message": "m", "citations": []}],
            parties=[PartyRef(name="Zyxtronic Quantum Devices Ltd", country="CN", role="end_user",
                              outcome=outcome)])], at=AT)[0]

    known = rec("prohibited")
    weaker = rec("review")
    parties = recorded_parties(store)
    states = {o.record_id: o.state for o in parties[0].occurrences}
    assert states[known] == PartyState(Outcome.prohibited, 2, None)
    assert states[weaker] == PartyState(Outcome.review, 1, None)
    result = rescreen(parties, as_of=AS_OF, lists=[new])
    assert [w.record_ids for w in result.worsened] == [[weaker]]
    assert result.worsened[0].reasons == ["band possible -> strong", "outcome review -> prohibited"]
