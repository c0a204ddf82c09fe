"""The parties a ``batch`` order's record names (issue 15): each party field's name and country come from
the first line of the order that gives them (an order's lines may leave a party blank on some lines), in
the order of the batch's party fields, whatever the recorder's shortcuts for the common case."""

from __future__ import annotations

import datetime as dt
import io
import sqlite3
from pathlib import Path
from typing import Any

from ecscreen.records import RecordStore
from ecscreen.records.rawsqlite import DB_NAME
from ecscreen.records.recorder import BatchRecorder
from ecscreen.runners.batch import BatchOptions, run_batch

AT = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)

ORDERS = ("order_id,date,destination,description,eccn,end_user,end_user_country,consignee,consignee_country,purchaser\n"
          # B-1: the end user's country only on the second line, the consignee only on the third
          "B-1,2026-08-01,DE,Laptop,EAR99,Muster Automation GmbH,,,,\n"
          "B-1,2026-08-01,DE,Mouse,EAR99,Muster Automation GmbH,DE,,,Einkauf AG\n"
          "B-1,2026-08-01,DE,Cable,EAR99,Other Spelling GmbH,AT,Spedition Nord KG,DE,Other Buyer AG\n"
          # B-2: one line, every party given
          "B-2,2026-08-01,FR,Laptop,EAR99,Atelier Lumiere SA,FR,Transports Rapides SARL,FR,Atelier Lumiere SA\n"
          # B-3: the end user only on the last line; no consignee at all
          "B-3,2026-08-01,DE,Laptop,EAR99,,,,,\n"
          "B-3,2026-08-01,DE,Mouse,EAR99,Spaet Gegeben GmbH,DE,,,\n")


def test_batch_record_parties_come_from_the_first_line_giving_each(tmp_path: Path, engine: Any) -> None:
    store = RecordStore.open(home=tmp_path)
    try:
        rec = BatchRecorder(store, manifest=store.put_manifest({"run": 1}, at=AT), file="o.csv", at=AT, chunk=2)
        run_batch(io.BytesIO(ORDERS.encode("utf-8")), io.StringIO(), engine, file="o.csv", recorder=rec,
                  options=BatchOptions(today=dt.date(2026, 11, 28)))
        assert rec.recorded == 3
        got = {r.subject: [(p["name"], p["country"], p["role"]) for p in r.content["parties"]]
               for r in store.query(newest_first=False)}
    finally:
        store.close()
    assert got == {
        "B-1": [("Muster Automation GmbH", "DE", "end_user"), ("Spedition Nord KG", "DE", "consignee"),
                ("Einkauf AG", None, "purchaser")],
        "B-2": [("Atelier Lumiere SA", "FR", "end_user"), ("Transports Rapides SARL", "FR", "consignee"),
                ("Atelier Lumiere SA", None, "purchaser")],
        "B-3": [("Spaet Gegeben GmbH", "DE", "end_user")],
    }
    with sqlite3.connect(tmp_path / DB_NAME) as conn:  # the party rows (rescreen, history --party) agree
        rows = conn.execute("SELECT record_id, idx, name, country, role FROM record_parties ORDER BY 1, 2").fetchall()
    assert [(r[2], r[3], r[4]) for r in rows] == [p for s in ("B-1", "B-2", "B-3") for p in got[s]]
