"""Every ECCN x destination pair of the source data against a straightforward reading of the chart.

The reading here is independent of ``scripts/convert_chart.py``: it reads the raw source JSON
(``tests/fixtures/chart``, copied from the eCFR 2026-07-23 data) with two regular expressions.

For an item that gives only the entry (no paragraph):

* a reason whose every control is "<R> applies to entire entry" with "<R> Column <n>" must give
  ``license_required`` exactly when one of its columns has an X in the destination row, and no
  finding otherwise (converter and engine agree with the chart);
* any other reason with a column that has an X for the destination must never be read leniently:
  the engine gives ``review`` or ``license_required``;
* embargoed rows (Cuba, Iran, North Korea, Syria) give ``license_required`` for every entry;
* entries of § 738.3(a)(1) give ``license_required`` everywhere.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from pathlib import Path

import pytest

from ecscreen.domain.countries import Country, resolve
from ecscreen.engine.chart import determine
from ecscreen.model import Item, Outcome

FIX = Path(__file__).parent / "fixtures" / "chart"
ON = dt.date(2026, 8, 1)
COL = re.compile(r"^(CB|NP|NS|MT|RS|FC|CC|AT) Column (\d)\.?$")
ENTIRE = re.compile(r"^(CB|NP|NS|MT|RS|FC|CC|AT) applies to (?:the )?entire entry\.?$")


def _code(name: str) -> Country:
    c = resolve(name) or resolve(name.replace(", Republic of", "").strip())
    assert c is not None, name
    return c


@pytest.fixture(scope="module")
def source() -> tuple[dict, list[dict]]:
    chart = json.loads((FIX / "country-chart.json").read_text("utf-8"))
    ccl = json.loads((FIX / "ccl-country-chart.json").read_text("utf-8"))["entries"]
    return chart, ccl


def _reading(entry: dict) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """reason -> columns, split into simple reasons (all controls entire-entry columns) and others."""
    simple: dict[str, set[str]] = defaultdict(set)
    other: dict[str, set[str]] = defaultdict(set)
    bad: set[str] = set()
    for cc in entry["countryChart"]:
        control, chart = cc["control"].strip(), cc["countryChart"].strip()
        reason = control.split()[0]
        m, e = COL.match(chart), ENTIRE.match(control)
        if m and e and m.group(1) == e.group(1):
            simple[reason].add(f"{m.group(1)} {m.group(2)}")
        else:
            bad.add(reason)
            m2 = re.search(r"\b(CB|NP|NS|MT|RS|FC|CC|AT) Column (\d)", chart)
            if m2:
                other[reason].add(f"{m2.group(1)} {m2.group(2)}")
    for r in bad:
        other[r] |= simple.pop(r, set())
    return dict(simple), dict(other)


def test_every_eccn_and_destination_agrees_with_the_chart(registry, source) -> None:
    chart, ccl = source
    rows = [(_code(name), set(v["marks"])) for name, v in chart["countries"].items()]
    embargoed = [_code(name) for name in chart["embargoed"]]
    listed = chart["allDestinationsEntries"]["noLicenceExceptions"] + chart["allDestinationsEntries"]["govOnly"]["entries"]
    # whole entries without a qualifier need a licence everywhere; "5D001 (for 5A001.f.1 ...)" at least review
    all_dest = {e for e in listed if re.fullmatch(r"[0-9][A-E][0-9]{3}", e)}
    all_dest_partial = {e.split()[0].split(".")[0] for e in listed} - all_dest
    assert len(ccl) == 633 and len(rows) == 196 and len(embargoed) == 4
    pairs = simple_checked = lenient_checked = 0
    mismatches: list[str] = []
    for entry in ccl:
        eccn = entry["eccn"]
        item = Item(description="generated", eccn=eccn)
        simple, other = _reading(entry)
        for dest, marks in rows:
            pairs += 1
            res = determine(item, 0, dest, registry, ON)
            assert not res.errors, (eccn, dest.code, res.errors)
            got = {f.rule_id.rsplit("-", 1)[1]: f.outcome for f in res.findings}
            if eccn in all_dest:
                if got.get("ALL") != Outcome.license_required:
                    mismatches.append(f"{eccn} {dest.code}: § 738.3(a)(1) entry not licence-required ({got})")
                continue
            if eccn in all_dest_partial and got.get("ALL") != Outcome.review:
                mismatches.append(f"{eccn} {dest.code}: § 738.3(a)(1) entry for part of {eccn} not review ({got})")
            for reason, cols in simple.items():
                simple_checked += 1
                want = Outcome.license_required if cols & marks else None
                if got.get(reason) != want:
                    mismatches.append(f"{eccn} {dest.code} {reason} {sorted(cols)} marks={sorted(marks)}: "
                                      f"expected {want}, got {got.get(reason)}")
            for reason, cols in other.items():
                if cols & marks:
                    lenient_checked += 1
                    if got.get(reason) not in (Outcome.review, Outcome.license_required):
                        mismatches.append(f"{eccn} {dest.code} {reason}: column {sorted(cols & marks)} has an X "
                                          f"but the engine says {got.get(reason)}")
        for dest in embargoed:
            pairs += 1
            res = determine(item, 0, dest, registry, ON)
            got = {f.rule_id.rsplit("-", 1)[1]: f.outcome for f in res.findings}
            if got.get("EMBARGO") != Outcome.license_required:
                mismatches.append(f"{eccn} {dest.code}: expected EMBARGO license_required, got {got}")
    assert not mismatches, f"{len(mismatches)} mismatches, e.g.:\n" + "\n".join(mismatches[:20])
    assert pairs == 633 * 200
    # the straightforward reading covers most of the chart; the rest is checked for leniency
    assert simple_checked > 100_000
    assert lenient_checked > 5_000
