"""The record store (issue 15): the same tests against SQLite and a real PostgreSQL server.

PostgreSQL runs when the server binaries exist (``tests/pgserver.py``; ``.ci/run`` installs them) and is
skipped with the reason otherwise."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing as mp
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from ecscreen.errors import UsageError
from ecscreen.records import Decision, NewRecord, PartyRef, RecordStore
from ecscreen.records.schema import HEAD_REVISION, metadata, records
from ecscreen.records.store import GENESIS, _kind_is, canonical, chain_hash

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'records.db'}"
    server = request.getfixturevalue("pg_server")
    return server.new_database()


@pytest.fixture
def store(store_url: str):
    s = RecordStore.open(url=store_url)
    yield s
    s.close()


def rec(i: int = 0, *, decision: str = "clear", party: str | None = "Acme Trading Co", country: str = "CN",
        outcome: str = "clear", subject: str | None = None, **kw: Any) -> NewRecord:
    parties = [PartyRef(name=party, country=country, role="end_user", outcome=outcome,
                        score=95.0 if outcome != "clear" else None)] if party else []
    return NewRecord(command="check", source=f"s.yaml:{i + 1}", subject=subject or f"S{i}",
                     input={"destination": "CN", "n": i, "items": [{"description": "x"}]}, decision=decision,
                     findings=[{"rule_id": "R1", "outcome": decision}] if decision != "clear" else [],
                     parties=parties, **kw)


def sql(store: RecordStore, statement: str, **params: Any) -> None:
    with store.engine.begin() as conn:
        conn.execute(text(statement), params)


# --------------------------------------------------------------------------- schema


def test_open_migrates_to_head_and_schema_matches_metadata(store: RecordStore) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.config import Config
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    assert store.revision() == HEAD_REVISION
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__import__("ecscreen.records.store").records.store.__file__)
                                               .parent / "migrations"))
    assert ScriptDirectory.from_config(cfg).get_current_head() == HEAD_REVISION
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def _store_at(store_url: str, revision: str) -> RecordStore:
    """A store migrated only up to ``revision`` (an older schema), opened without migrating further."""
    from alembic import command
    from alembic.config import Config

    old = RecordStore.open(url=store_url, migrate=False)
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__import__("ecscreen.records.store").records.store.__file__)
                                               .parent / "migrations"))
    with old._writer() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    return old


def test_upgrade_from_0002_drops_the_party_name_index_and_keeps_the_chain(store_url: str) -> None:
    """Migration 0003: a store written at revision 0002 (with the index on record_parties.norm_name,
    whose random inserts slowed batch recording as the store grew) upgrades in place: the index is gone,
    the records still verify, and the party queries answer as before."""
    from sqlalchemy import inspect

    old = _store_at(store_url, "0002_kind_index")
    assert old.revision() == "0002_kind_index"
    names = ["Zeta GmbH", "acme trading co", "Acme  Trading Co", "Beta Ltd"]
    old.append_screenings([rec(i, party=n) for i, n in enumerate(names)], at=T0)
    with old.engine.connect() as conn:
        assert "ix_record_parties_norm" in {ix["name"] for ix in inspect(conn).get_indexes("record_parties")}
    old.close()
    new = RecordStore.open(url=store_url)
    try:
        assert new.revision() == HEAD_REVISION
        with new.engine.connect() as conn:
            assert "ix_record_parties_norm" not in {ix["name"] for ix in inspect(conn).get_indexes("record_parties")}
        new.append_screenings([rec(9, party="ACME Trading Co")], at=T0)
        assert new.verify().ok and new.verify().checked == 5
        seen = list(new.iter_parties())
        assert [p.norm_name for p in seen] == ["acme trading co", "beta ltd", "zeta gmbh"]  # still sorted by name
        assert seen[0].record_ids == [2, 3, 5]
        assert [r.id for r in new.query(party="TRADING")] == [5, 3, 2]
    finally:
        new.close()


def test_upgrade_from_0003_makes_the_kind_and_ref_id_indexes_partial(store_url: str) -> None:
    """Migration 0004: the indexes on records.kind and records.ref_id hold the decision records only (every
    screening put a key in both before, read by no query). A store written at 0003 upgrades in place; the
    decision queries still find their records, through the partial indexes (SQLite's plan names them)."""
    from sqlalchemy import inspect

    old = _store_at(store_url, "0003_drop_party_name_index")
    old.append_screenings([rec(i, decision="review") for i in range(3)], at=T0)
    old.append_decision(Decision(record_id=2, rule_id="R", decision="confirmed", reason="r", approver="a"), at=T0)
    with old.engine.connect() as conn:
        assert {"ix_records_kind", "ix_records_ref_id"} <= {ix["name"] for ix in inspect(conn).get_indexes("records")}
    old.close()
    new = RecordStore.open(url=store_url)
    try:
        assert new.revision() == HEAD_REVISION
        with new.engine.connect() as conn:
            names = {ix["name"] for ix in inspect(conn).get_indexes("records")}
            assert {"ix_records_kind", "ix_records_ref_id"} & names == set()
            assert {"ix_records_kind_decision", "ix_records_ref_id_set"} <= names
            if new.dialect == "sqlite":
                # the partial indexes hold the one decision record, not the three screenings
                assert conn.exec_driver_sql("SELECT count(*) FROM records INDEXED BY ix_records_kind_decision "
                                            "WHERE kind = 'decision'").scalar() == 1
                plans = [conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(q.compile(
                    dialect=new.engine.dialect, compile_kwargs={"literal_binds": True}))).fetchall()
                    for q in (select(records.c.id).where(_kind_is("decision")),
                              select(records.c.id).where(_kind_is("decision"), records.c.ref_id == 2))]
                assert "ix_records_kind_decision" in str(plans[0]) and "ix_records_ref_id_set" in str(plans[1])
        new.append_screenings([rec(9)], at=T0)
        new.append_decision(Decision(record_id=5, rule_id="R", decision="cleared", reason="r", approver="a"), at=T0)
        assert [d.ref_id for d in new.decisions()] == [2, 5]
        assert [d.id for d in new.decisions(2)] == [4] and [d.id for d in new.decisions(5)] == [6]
        assert new.count(kind="decision") == 2 and new.count(kind="screening") == 4
        assert new.verify().ok and new.verify().checked == 6
    finally:
        new.close()


def test_reopening_does_not_migrate_again(store_url: str) -> None:
    a = RecordStore.open(url=store_url)
    a.append_screenings([rec(0)], at=T0)
    a.close()
    b = RecordStore.open(url=store_url)
    assert b.get(1) is not None and b.count() == 1
    b.close()


def test_home_directory_default_is_records_db(tmp_path: Path) -> None:
    s = RecordStore.open(home=tmp_path / "home")
    s.append_screenings([rec(0)], at=T0)
    s.close()
    db = tmp_path / "home" / "records.db"
    assert db.is_file() and oct(db.stat().st_mode & 0o777) == "0o600"


def test_unsupported_url_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unsupported database"):
        RecordStore.open(url="mysql://u@localhost/x")


# --------------------------------------------------------------------------- append and read


def test_append_assigns_consecutive_ids_and_chains(store: RecordStore) -> None:
    ids = store.append_screenings([rec(0), rec(1), rec(2)], at=T0)
    assert ids == [1, 2, 3]
    assert store.append_screenings([rec(3)], at=T0) == [4]
    r1, r2 = store.get(1), store.get(2)
    assert r1 is not None and r2 is not None
    assert r1.prev_hash == GENESIS
    assert r2.prev_hash == r1.hash
    assert r2.hash == chain_hash(r1.hash, r2.content_text or "")
    assert r1.content["id"] == 1 and r1.content["kind"] == "screening"
    assert r1.recorded_at == T0
    assert r1.content["input"] == {"destination": "CN", "n": 0, "items": [{"description": "x"}]}
    assert store.get(99) is None


def test_input_hash_is_canonical(store: RecordStore) -> None:
    a = NewRecord(command="api", source="api:x", input={"b": 1, "a": [1, 2]}, decision="clear")
    b = NewRecord(command="api", source="api:x", input={"a": [1, 2], "b": 1}, decision="clear")
    ids = store.append_screenings([a, b], at=T0)
    ra, rb = store.get(ids[0]), store.get(ids[1])
    assert ra is not None and rb is not None
    assert ra.input_sha256 == rb.input_sha256
    import hashlib

    assert ra.input_sha256 == hashlib.sha256(canonical({"a": [1, 2], "b": 1}).encode()).hexdigest()


def test_query_filters(store: RecordStore) -> None:
    store.append_screenings([rec(0, party="Acme Trading Co")], at=T0)
    store.append_screenings([rec(1, party="Beta Industries", decision="review", outcome="review")],
                            at=T0 + dt.timedelta(days=10))
    store.append_screenings([rec(2, party="ACME  trading co", decision="prohibited")], at=T0 + dt.timedelta(days=20))
    assert [r.id for r in store.query(party="acme trading")] == [3, 1]
    assert [r.id for r in store.query(party="BETA")] == [2]
    assert [r.id for r in store.query(party="100%")] == []  # LIKE wildcards are literal
    assert [r.id for r in store.query(since=dt.date(2026, 3, 5))] == [3, 2]
    assert [r.id for r in store.query(since="2026-03-05", until="2026-03-15")] == [2]
    assert [r.id for r in store.query(decision="prohibited")] == [3]
    assert [r.id for r in store.query(limit=1)] == [3]
    assert [r.id for r in store.query(newest_first=False)] == [1, 2, 3]
    assert [r.id for r in store.iter_records(since="2026-03-05", chunk=1)] == [2, 3]


def test_iter_parties_groups_by_normalised_name_and_country(store: RecordStore) -> None:
    store.append_screenings([rec(0, party="Acme Trading Co", country="CN"),
                             rec(1, party="ACME  Trading co", country="CN", outcome="review"),
                             rec(2, party="Acme Trading Co", country="HK"),
                             rec(3, party=None)], at=T0)
    store.append_screenings([rec(4, party="Zeta GmbH", country="DE")], at=T0 + dt.timedelta(days=40))
    seen = list(store.iter_parties())
    assert [(p.norm_name, p.country, p.record_ids) for p in seen] == [
        ("acme trading co", "CN", [1, 2]), ("acme trading co", "HK", [3]), ("zeta gmbh", "DE", [5])]
    assert seen[0].last_outcome == "review" and seen[0].last_score == 95.0 and seen[0].name == "ACME  Trading co"
    assert [p.norm_name for p in store.iter_parties(since="2026-04-01")] == ["zeta gmbh"]


def test_decisions_are_chained_records(store: RecordStore) -> None:
    store.append_screenings([rec(0, decision="review", outcome="review")], at=T0)
    did = store.append_decision(Decision(record_id=1, rule_id="PARTY-HIT", decision="cleared", reason="different firm",
                                         approver="J. Doe", expires=dt.date(2027, 1, 1),
                                         party=PartyRef(name="Acme Trading Co", country="CN")), at=T0)
    assert did == 2
    d = store.get(2)
    assert d is not None and d.kind == "decision" and d.ref_id == 1 and d.decision == "cleared"
    assert d.content["decision_detail"]["expires"] == "2027-01-01"
    assert [x.id for x in store.decisions(1)] == [2]
    assert store.verify().ok
    with pytest.raises(UsageError, match="record 7 not found"):
        store.append_decision(Decision(record_id=7, rule_id="R", decision="confirmed", reason="r", approver="a"), at=T0)
    with pytest.raises(UsageError, match="not a screening"):
        store.append_decision(Decision(record_id=2, rule_id="R", decision="confirmed", reason="r", approver="a"), at=T0)


# --------------------------------------------------------------------------- blobs


def test_blobs_are_content_addressed_and_checked(store: RecordStore) -> None:
    a = store.put_blob(b"pack text", "pack", ref="p1")
    assert store.put_blob(b"pack text", "pack", ref="p1") == a
    assert store.get_blob(a) == b"pack text"
    assert store.find_blob("pack", "p1") == a
    assert store.has_blobs([a, "0" * 64]) == {a}
    m = store.put_manifest({"tool": "ecscreen", "packs": [{"id": "p1", "blob": a}]})
    assert store.get_manifest(m) == {"tool": "ecscreen", "packs": [{"id": "p1", "blob": a}]}
    assert store.verify_blobs() == []
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE blobs SET data = :d WHERE sha256 = :s"), {"d": b"pack TEXT", "s": a})
    with pytest.raises(ValueError, match="damaged"):
        store.get_blob(a)
    assert store.verify_blobs() == [a]


# --------------------------------------------------------------------------- tamper evidence


@pytest.fixture
def chained(store: RecordStore) -> RecordStore:
    store.append_screenings([rec(i, decision="review" if i == 2 else "clear") for i in range(6)], at=T0)
    assert store.verify().ok and store.verify().checked == 6
    return store


def test_verify_detects_an_edited_content(chained: RecordStore) -> None:
    r = chained.get(3)
    assert r is not None and r.content_text is not None
    sql(chained, "UPDATE records SET content = :c WHERE id = 3",
        c=r.content_text.replace('"decision":"review"', '"decision":"clear"'))
    res = chained.verify()
    assert not res.ok and res.first_bad_id == 3 and "changed" in (res.problem or "")


def test_verify_detects_an_edited_column(chained: RecordStore) -> None:
    sql(chained, "UPDATE records SET decision = 'clear' WHERE id = 3")
    res = chained.verify()
    assert not res.ok and res.first_bad_id == 3 and "decision column" in (res.problem or "")


def test_verify_detects_a_rehashed_edit(chained: RecordStore) -> None:
    """Recomputing the edited record's own hash does not help: the next record no longer follows it."""
    r = chained.get(3)
    assert r is not None and r.content_text is not None
    content = r.content_text.replace('"decision":"review"', '"decision":"clear"')
    sql(chained, "UPDATE records SET content = :c, decision = 'clear', hash = :h WHERE id = 3",
        c=content, h=chain_hash(r.prev_hash, content))
    res = chained.verify()
    assert not res.ok and res.first_bad_id == 4 and "does not follow" in (res.problem or "")


def test_verify_detects_a_deletion(chained: RecordStore) -> None:
    sql(chained, "DELETE FROM records WHERE id = 4")
    res = chained.verify()
    assert not res.ok and res.first_bad_id == 5 and "record 4 is missing" in (res.problem or "")


def test_verify_detects_a_renumbered_deletion(chained: RecordStore) -> None:
    sql(chained, "DELETE FROM records WHERE id = 4")
    sql(chained, "UPDATE records SET id = id - 1 WHERE id > 4")
    res = chained.verify()
    assert not res.ok and res.first_bad_id == 4


def test_verify_detects_reordering(chained: RecordStore) -> None:
    sql(chained, "UPDATE records SET id = -1 WHERE id = 2")
    sql(chained, "UPDATE records SET id = 2 WHERE id = 3")
    sql(chained, "UPDATE records SET id = 3 WHERE id = -1")
    res = chained.verify()
    assert not res.ok and res.first_bad_id == 2


def test_verify_of_an_empty_store(store: RecordStore) -> None:
    res = store.verify()
    assert res.ok and res.checked == 0


# --------------------------------------------------------------------------- prune


def test_prune_refuses_records_younger_than_five_years(chained: RecordStore) -> None:
    res = chained.prune(dt.date(2026, 4, 1), at=dt.datetime(2026, 5, 1, tzinfo=dt.UTC))
    assert res.pruned == 0 and res.refused and "762.6" in res.refused
    assert chained.count() == 6


def test_prune_old_records_keeps_the_chain_verifiable(store: RecordStore) -> None:
    old = dt.datetime(2018, 1, 1, tzinfo=dt.UTC)
    store.append_screenings([rec(0), rec(1)], at=old)
    store.append_screenings([rec(2)], at=dt.datetime(2019, 6, 1, tzinfo=dt.UTC))
    store.append_screenings([rec(3)], at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    store.append_decision(Decision(record_id=4, rule_id="R", decision="confirmed", reason="r", approver="a"),
                          at=dt.datetime(2025, 1, 2, tzinfo=dt.UTC))
    now = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    res = store.prune(dt.date(2020, 1, 1), at=now)
    assert res.refused is None and res.pruned == 3 and res.through_id == 3 and res.checkpoint_id == 6
    assert [r.id for r in store.query(kind=None, newest_first=False)] == [4, 5, 6]
    cp = store.get(6)
    assert cp is not None and cp.kind == "checkpoint" and cp.content["pruned"] == 3
    v = store.verify()
    assert v.ok and v.base_id == 3 and v.checked == 3
    assert list(store.iter_parties()) and all(p.record_ids == [4] for p in store.iter_parties())
    # prune again: nothing older left
    assert store.prune(dt.date(2020, 1, 1), at=now).pruned == 0
    # the chain base cannot be moved without the checkpoint noticing
    sql(store, "UPDATE chain_base SET base_id = 4, base_hash = (SELECT hash FROM records WHERE id = 4)")
    sql(store, "DELETE FROM records WHERE id = 4")
    res = store.verify()
    assert not res.ok and "chain base" in (res.problem or "")


def test_forced_prune_of_young_records(chained: RecordStore) -> None:
    res = chained.prune(dt.date(2027, 1, 1), at=dt.datetime(2027, 1, 1, tzinfo=dt.UTC), force=True)
    assert res.pruned == 6 and res.checkpoint_id == 7
    cp = chained.get(7)
    assert cp is not None and cp.content["forced"] is True
    assert chained.verify().ok
    assert chained.append_screenings([rec(9)], at=dt.datetime(2027, 1, 2, tzinfo=dt.UTC)) == [8]
    assert chained.verify().ok and chained.verify().checked == 2


def test_prune_drops_manifests_and_blobs_no_record_uses(store: RecordStore) -> None:
    pack = store.put_blob(b"old pack", "pack")
    m_old = store.put_manifest({"packs": [{"id": "p", "blob": pack}]})
    keep = store.put_blob(b"new pack", "pack")
    m_new = store.put_manifest({"packs": [{"id": "p", "blob": keep}]})
    store.append_screenings([rec(0, manifest=m_old)], at=dt.datetime(2015, 1, 1, tzinfo=dt.UTC))
    store.append_screenings([rec(1, manifest=m_new)], at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    store.prune(dt.date(2016, 1, 1), at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    assert store.has_blobs([pack, m_old, keep, m_new]) == {keep, m_new}


# --------------------------------------------------------------------------- concurrency


def _writer(url: str, worker: int, n: int) -> None:
    s = RecordStore.open(url=url)
    for i in range(n):
        s.append_screenings([rec(i, subject=f"w{worker}-{i}"), rec(i, subject=f"w{worker}-{i}b")],
                            at=T0 + dt.timedelta(seconds=i))
    s.close()


def test_two_processes_append_concurrently(store_url: str) -> None:
    RecordStore.open(url=store_url).close()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(store_url, w, 40)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(180)
    assert [p.exitcode for p in procs] == [0, 0]
    s = RecordStore.open(url=store_url)
    try:
        assert s.count() == 160
        v = s.verify()
        assert v.ok and v.checked == 160
        subjects = [r.subject for r in s.query(newest_first=False)]
        assert len(set(subjects)) == 160
        # each append (a pair) stays together: ids 2k+1, 2k+2 hold one worker's pair
        for a, b in zip(subjects[::2], subjects[1::2], strict=True):
            assert b == f"{a}b"
    finally:
        s.close()


def test_first_open_by_two_processes_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(url, w, 3)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    s = RecordStore.open(url=url)
    assert s.count() == 12 and s.verify().ok
    s.close()


def test_content_is_json_with_its_own_id(store: RecordStore) -> None:
    store.append_screenings([rec(0)], at=T0)
    with store.engine.connect() as conn:
        content = conn.execute(text("SELECT content FROM records WHERE id = 1")).scalar()
    doc = json.loads(content)
    assert doc["id"] == 1 and doc["recorded_at"] == "2026-03-01T12:00:00.000000Z"


# --------------------------------------------------------------------------- read-only methods of rescreen


def test_iter_party_rows_in_record_order_with_window(store: RecordStore) -> None:
    """iter_party_rows (added for rescreen): every party occurrence of screening records, in record and
    party order, with its own outcome; decision records are left out; the window bounds recorded_at."""
    two = NewRecord(command="check", source="s.yaml:9", subject="S9", input={"destination": "CN"}, decision="review",
                    parties=[PartyRef(name="Beta Ltd", country="HK", role="consignee", outcome="review", score=91.0),
                             PartyRef(name="Gamma AG", country=None, role="end_user", outcome="clear")])
    store.append_screenings([rec(0, party="Acme Trading Co", country="CN"), two, rec(2, party=None)], at=T0)
    store.append_decision(Decision(record_id=2, rule_id="R1", decision="cleared", reason="ok", approver="A"),
                          at=T0 + dt.timedelta(days=1))
    store.append_screenings([rec(3, party="Zeta GmbH", country="DE", outcome="review")],
                            at=T0 + dt.timedelta(days=40))
    rows = [tuple(r) for r in store.iter_party_rows(chunk=2)]
    assert rows == [(1, 0, "Acme Trading Co", "CN", "end_user", "clear"),
                    (2, 0, "Beta Ltd", "HK", "consignee", "review"),
                    (2, 1, "Gamma AG", None, "end_user", "clear"),
                    (5, 0, "Zeta GmbH", "DE", "end_user", "review")]
    assert [r[0] for r in store.iter_party_rows(since="2026-04-01")] == [5]
    assert [r[0] for r in store.iter_party_rows(until="2026-04-01")] == [1, 2, 2]
    assert list(store.iter_party_rows(since="2099-01-01")) == []


def test_get_many_and_manifests_of(store: RecordStore) -> None:
    """get_many and manifests_of (added for rescreen): by id, in chunks, missing ids left out."""
    man = store.put_manifest({"tool": "ecscreen", "packs": [], "lists": []}, at=T0)
    ids = store.append_screenings([rec(i, manifest=man if i % 2 else None) for i in range(7)], at=T0)
    assert ids == list(range(1, 8))
    got = store.get_many([7, 3, 3, 1, 99], chunk=2)
    assert sorted(got) == [1, 3, 7] and got[3].subject == "S2" and got[7].content["input"]["n"] == 6
    assert got[1].decision == "clear" and got[1].manifest is None
    mans = store.manifests_of([1, 2, 4, 99], chunk=2)
    assert mans == {1: None, 2: man, 4: man}
    assert store.get_many([]) == {} and store.manifests_of([]) == {}


def test_sqlite_writers_wait_on_the_machine_lock_not_in_sqlite_polling(tmp_path: Path) -> None:
    """Regression (issue 15, serve with 2 workers): writers of one SQLite store queue on an exclusive flock
    of ``records.db.lock`` (woken by the kernel when it frees) instead of colliding in SQLite's busy
    handler, which sleeps 1-100 ms between tries. Before, an append ignored the lock file."""
    fcntl = pytest.importorskip("fcntl")
    import threading

    store = RecordStore.open(home=tmp_path)
    try:
        ids: list[int] = []
        with open(tmp_path / "records.db.lock", "a+b") as other:  # another writer holding the lock
            fcntl.flock(other.fileno(), fcntl.LOCK_EX)
            t = threading.Thread(target=lambda: ids.extend(store.append_screenings([rec(1)], at=T0)))
            t.start()
            t.join(0.5)
            assert t.is_alive() and ids == []  # waits for the other writer
            fcntl.flock(other.fileno(), fcntl.LOCK_UN)
            t.join(30)
        assert not t.is_alive() and ids == [1]
        assert store.append_screenings([rec(2), rec(3)], at=T0) == [2, 3]
        assert store.verify().ok
    finally:
        store.close()


def test_one_record_appends_from_several_threads_stay_one_chain(tmp_path: Path) -> None:
    """The SQLite fast path (a driver connection per thread) keeps ids consecutive and the chain valid when
    threads append one record each, as serve's recorder and a CLI thread may; close() releases them all."""
    import threading

    store = RecordStore.open(home=tmp_path)
    try:
        def work(w: int) -> None:
            for i in range(25):
                store.append_screenings([rec(100 * w + i, subject=f"W{w}-{i}")], at=T0)

        threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert store.count() == 100
        v = store.verify()
        assert v.ok and v.checked == 100
        assert sorted(r.subject for r in store.query()) == sorted(f"W{w}-{i}" for w in range(4) for i in range(25))
    finally:
        store.close()
    assert store._opened == []
    again = RecordStore.open(home=tmp_path)
    try:
        assert again.append_screenings([rec(999)], at=T0) == [101] and again.verify().ok
    finally:
        again.close()
