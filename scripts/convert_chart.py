#!/usr/bin/env python3
"""Convert the eCFR Commerce Country Chart and Commerce Control List JSON (eCFR 2026-07-23)
into the project's ``country_chart`` and ``ccl`` pack formats.

Usage: python scripts/convert_chart.py [SRC_DIR] [OUT_DIR]
Defaults: ../shared/data/ear-country-chart-ccl-2026-07-23/  rules/us-ear/chart/

Inputs (see SRC_DIR/SOURCE.md): ``country-chart.json`` (15 CFR 738 Supp. 1),
``ccl.json`` (15 CFR 774 Supp. 1), ``license-exception-catalog.json`` (part 740 headings).

What the converter does:

* maps every chart row name to ISO 3166 alpha-2 (``ecscreen.domain.countries.resolve``);
* reads each CCL entry's "Control(s) / Country Chart" table into structured controls:
  the reason for control, the part of the entry it applies to (entire entry, entire entry
  except paragraphs, a list of paragraphs, or a condition in words) and its target (a chart
  column, a destination set written out in words, or a pointer elsewhere in the EAR);
* reads the licence-exception lines of each entry (LVS value limit, GBS scope, reasons
  excluded, paragraphs included or excluded);
* writes the curated facts the JSON cannot state (what each footnote requires, the
  destination sets named in words, the BIS non-enforcement statement on the January 2025
  AI Diffusion rule) with their citations, from the tables at the top of this file.

Anything the converter cannot read exactly becomes a ``conditional`` scope or a ``pointer``
target: the engine turns those into ``review`` (fail closed), never into silence.
The generated files must not be edited by hand; rerun this script.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ecscreen.domain.countries import resolve  # noqa: E402

DEFAULT_SRC = ROOT.parent / "shared/data/ear-country-chart-ccl-2026-07-23"
DEFAULT_OUT = ROOT / "rules/us-ear/chart"
EFFECTIVE = "2026-07-23"

CHART_CIT = {"kind": "regulation", "ref": "15 CFR part 738, Supplement No. 1",
             "note": "Commerce Country Chart, eCFR 2026-07-23"}
CCL_CIT = {"kind": "regulation", "ref": "15 CFR part 774, Supplement No. 1",
           "note": "Commerce Control List, eCFR 2026-07-23"}


def reg(ref: str, note: str | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {"kind": "regulation", "ref": ref}
    if note:
        d["note"] = note
    return d


def fr(ref: str, note: str | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {"kind": "federal_register", "ref": ref}
    if note:
        d["note"] = note
    return d


def _short_barrel(eccn: str) -> list[dict[str, Any]]:
    return [{"paragraph": "", "all": [{"param": "barrel_length_in", "lt": 18}],
             "citations": [reg(f"15 CFR part 774, Supplement No. 1, ECCN {eccn}",
                               "License Requirements: shotguns with a barrel length less than 18 inches (45.72 cm)")]}]


# --------------------------------------------------------------------------- curated facts

# Part 746 sections the embargoed rows point to (the row texts name them; Cuba and Iran say
# only "part 746": the sections are 746.2 and 746.7).
EMBARGO_SECTIONS = {
    "CU": ["15 CFR 746.2"],
    "IR": ["15 CFR 746.7"],
    "KP": ["15 CFR 742.19", "15 CFR 746.4"],
    "SY": ["15 CFR 746.9"],
}

# Regions that the chart does not list but that a footnote of their country's row governs.
REGION_ROWS = {"UA-43": "UA", "UA-40": "UA", "UA-14": "UA", "UA-09": "UA"}

# What each chart footnote requires. ``note``: informational only; ``eccns``: a licence
# requirement (or review) for the listed ECCN paragraphs at destinations whose row carries
# the footnote; ``all_ccl``: for every ECCN on the CCL; ``regions``: for the listed regions.
FOOTNOTE_EFFECTS: dict[str, dict[str, Any]] = {
    "1": {"kind": "note", "citations": [reg("15 CFR 746.1(b)"), reg("15 CFR 746.3")]},
    "2": {"kind": "eccns", "outcome": "review", "reason": "RS",
          "entries": [{"eccn": "6A003.b.4", "condition": "certain thermal imaging cameras (§ 742.4(a))"},
                      {"eccn": "6A993", "condition": "certain thermal imaging cameras (§ 742.4(a))"}],
          "citations": [reg("15 CFR 742.4(a)")]},
    "3": {"kind": "eccns", "outcome": "review", "reason": "RS",
          "entries": [{"eccn": "0A919", "condition": "military commodities (§ 742.6(a)(3))"}],
          "citations": [reg("15 CFR 742.6(a)(3)")]},
    "4": {"kind": "eccns", "outcome": "review", "reason": "RS",
          "entries": [{"eccn": "6A003.b.4", "condition": "certain thermal imaging cameras (§ 742.6(a)(2), (4)(ii))"},
                      {"eccn": "6A993", "condition": "certain thermal imaging cameras (§ 742.6(a)(2), (4)(ii))"}],
          "citations": [reg("15 CFR 742.6(a)(2)"), reg("15 CFR 742.6(a)(4)(ii)")]},
    "5": {"kind": "note", "citations": [reg("15 CFR 738.3(b)")]},
    "6": {"kind": "all_ccl", "outcome": "license_required", "reason": "RUS",
          "message": "§ 746.8 requires a licence for items in any ECCN on the CCL to Russia and Belarus",
          "citations": [reg("15 CFR 746.8"), fr("87 FR 22130", "licence for all CCL items, 2022-04-08")]},
    "7": {"kind": "eccns", "outcome": "license_required", "reason": "RS",
          "entries": [{"eccn": "6A003.b.4.b"}, {"eccn": "9A515.e"}],
          "citations": [reg("15 CFR 742.6(a)(2)")]},
    # Footnote 8 is printed on the Pakistan row with the Crimea text of footnote 9 (an oddity
    # of the eCFR snapshot): it states nothing about Pakistan, so it stays informational.
    "8": {"kind": "note", "citations": [reg("15 CFR 746.6")]},
    "9": {"kind": "regions", "outcome": "license_required", "reason": "EMB",
          "regions": ["UA-43", "UA-40", "UA-14", "UA-09"],
          "review_eccns": [{"eccn": "5D992.c", "condition": "internet-based communications software (§ 746.6)"}],
          "message": "§ 746.6 requires a licence for all items subject to the EAR to the Crimea, "
                     "DNR and LNR regions of Ukraine (EAR99 food and medicine and certain "
                     "communications software excepted)",
          "citations": [reg("15 CFR 746.6"), fr("87 FR 12226", "DNR/LNR regions, 2022-02-24")]},
    "10": {"kind": "eccns", "outcome": "license_required", "reason": "FC",
           "entries": [
               {"eccn": "0A501", "except": ["y"]},
               {"eccn": "0A502", "condition": "shotguns with a barrel length less than 18 inches (45.72 cm)",
                "tests": _short_barrel("0A502")},
               {"eccn": "0A504.i"},
               {"eccn": "0A505.a"}, {"eccn": "0A505.x"},
               {"eccn": "0A506"}, {"eccn": "0A507"},
               {"eccn": "0A508", "condition": "semi-automatic shotguns with a barrel length less than 18 inches",
                "tests": _short_barrel("0A508")},
               {"eccn": "0A509"},
               {"eccn": "0D501", "condition": "except software for commodities in 0A501.y or equipment in "
                                              "0B501 for commodities in 0A501.y"},
               {"eccn": "0D505", "condition": "software for commodities in 0A505.a and .x and equipment in "
                                              "0B505.a and .x"},
               {"eccn": "0E501"}, {"eccn": "0E504"},
               {"eccn": "0E505", "condition": "technology for commodities in 0A505.a and .x, equipment in "
                                              "0B505 and software in 0D505 for them"},
           ],
           "citations": [reg("15 CFR part 738, Supplement No. 1, footnote 10")]},
}

# Thermal imaging cameras of 6A003 are the imaging cameras incorporating focal plane arrays of
# 6A003.b.4 (6A003.a: instrumentation cameras; b.3: image-intensifier cameras): footnotes 2 and 4
# name "certain thermal imaging cameras", so an item stated outside 6A003.b.4 is outside them.

# ---- reading the CCL precisely: parameters that decide a paragraph's scope (rules as data)
#
# Technical parameters the CCL entries' scopes read (declared in the ccl pack, given by shipments
# as items[].parameters). Names are lower case.
CCL_PARAMETERS: dict[str, dict[str, Any]] = {
    "frame_rate_hz": {"unit": "Hz", "description": "maximum frame rate of an imaging camera (6A003.b.4.b: more "
                                                   "than 60 Hz is RS 1; Note 3.a: 9 Hz or less is 6A993.a)"},
    "fpa_elements": {"unit": "elements", "description": "number of elements of the camera's focal plane array "
                                                        "(6A003.b.4.b: more than 111,000 is RS 1)"},
    "embedded_in_civil_product": {"type": "boolean", "description": "the camera is exported or reexported to be "
                                                                    "embedded in a civil product (6A003.b.4.b: RS 1)"},
    "civil_telecommunications_use": {"type": "boolean", "description": "the item is exported or reexported for "
                                                                       "use in civil telecommunications "
                                                                       "applications (3A001.b.2, b.3: outside NS 1 "
                                                                       "and RS 1)"},
    "barrel_length_in": {"unit": "in", "description": "barrel length of a shotgun in inches (0A502, 0A508: NS, RS "
                                                      "and AT apply below 18 in = 45.72 cm; footnote 10 the same)"},
}


# § 742.6(a)(2)(iii) (eCFR text read 2024-08-31): not an exemption the exporter can claim but licences BIS may
# issue for cameras under the (a)(2)(ii) requirement that are fully packaged as consumer-ready civil products,
# authorising further exports and reexports to civil end users without a licence; such a licence is a fact
# of the shipment (items[].licenses), which then covers the finding.
CAMERA_742_6_A2_III = (
    "§ 742.6(a)(2)(iii): for 6A003.b.4.b cameras under the § 742.6(a)(2)(ii) requirement (60 Hz or less with "
    "more than 111,000 elements, or to be embedded in a civil product) that are fully packaged as consumer-ready "
    "civil products, BIS may issue licences that also authorise exports and reexports to civil end users "
    "without a further licence; if this export is made under such a licence, list it in items[].licenses "
    "(the finding is then covered by it)")
_6A003_RS = reg("15 CFR part 774, Supplement No. 1, ECCN 6A003",
                "License Requirements: RS 1 / RS 2 split of 6A003.b.4.b by frame rate (60 Hz), focal plane array "
                "elements (111,000) and embedding in a civil product")
# (ECCN, reason, chart column) -> what the curated reading adds to the parsed scope: the paragraphs
# the words qualify (the others are plain), the parameter tests that decide the words, and the
# partition the controls of one reason share.
SCOPE_DETAILS: dict[tuple[str, str, str], dict[str, Any]] = {
    # "RS applies to 6A003.b.3, 6A003.b.4.a, 6A003.b.4.c and to items controlled in 6A003.b.4.b that
    # have a frame rate greater than 60 Hz or that incorporate a focal plane array with more than
    # 111,000 elements, or to items in 6A003.b.4.b when being exported or reexported to be embedded
    # in a civil product."
    ("6A003", "RS", "RS 1"): {
        "qualified": ["b.4.b"], "partition": "6A003.b.4.b RS",
        "tests": [{"paragraph": "b.4.b", "citations": [_6A003_RS],
                   "any": [{"param": "frame_rate_hz", "gt": 60}, {"param": "fpa_elements", "gt": 111000},
                           {"param": "embedded_in_civil_product", "eq": 1}],
                   "notes": [CAMERA_742_6_A2_III], "note_citations": [reg("15 CFR 742.6(a)(2)(ii)-(iii)")]}]},
    # "RS applies to items controlled in 6A003.b.4.b that have a frame rate of 60 Hz or less and that
    # incorporate a focal plane array with not more than 111,000 elements if not being exported or
    # reexported to be embedded in a civil product"
    ("6A003", "RS", "RS 2"): {
        "partition": "6A003.b.4.b RS",
        "tests": [{"paragraph": "b.4.b", "citations": [_6A003_RS],
                   "all": [{"param": "frame_rate_hz", "lte": 60}, {"param": "fpa_elements", "lte": 111000},
                           {"param": "embedded_in_civil_product", "eq": 0}]}]},
    # "NP applies to cameras controlled by 6A003.a.3 or a.4 and to plug-ins in 6A003.a.6 for cameras
    # controlled by 6A003.a.3 or a.4": the words qualify only the plug-ins of .a.6
    ("6A003", "NP", "NP 1"): {"qualified": ["a.6"]},
    # "NP applies to 1C010.a (aramid ..., b (carbon ...), and e.1 for ... that meet or exceed the control
    # criteria of ECCN 1C210": the eCFR text leaves the first parenthesis open, so the list is stated here
    ("1C010", "NP", "NP 1"): {"paragraphs": ["a", "b", "e.1"]},
    # "MT applies to entire entry, except 1B001.d.4, e and f. Note: MT applies to equipment in 1B001.d that
    # meet or exceed the parameters of 1B101": .e and .f are excepted outright, the note qualifies .d
    ("1B001", "MT", "MT 1"): {"qualified": ["d"]},
    # "NS [RS] applies to MMIC amplifiers in 3A001.b.2 and discrete microwave transistors in 3A001.b.3,
    # except those 3A001.b.2 and b.3 items being exported or reexported for use in civil
    # telecommunications applications" (NS 1, RS 1; NS 2 still applies to the entire entry)
    **{("3A001", r, f"{r} 1"): {"tests": [
        {"paragraph": p, "all": [{"param": "civil_telecommunications_use", "eq": 0}],
         "citations": [reg("15 CFR part 774, Supplement No. 1, ECCN 3A001",
                           f"License Requirements: {r} 1 for 3A001.b.2 and b.3 except for use in civil "
                           "telecommunications applications")]} for p in ("b.2", "b.3")]} for r in ("NS", "RS")},
    # "NS (RS, AT) applies to [semi-automatic] shotguns with a barrel length less than 18 inches (45.72 cm)"
    **{(e, r, f"{r} 1"): {"tests": _short_barrel(e)} for e in ("0A502", "0A508") for r in ("NS", "RS", "AT")},
}
# Notes of an entry that place items with stated parameters outside a paragraph, in another ECCN.
OUTSIDE: dict[str, list[dict[str, Any]]] = {
    "6A003": [{
        "rule": {"paragraph": "b.4.b", "all": [{"param": "frame_rate_hz", "lte": 9}],
                 "citations": [reg("15 CFR part 774, Supplement No. 1, ECCN 6A003, Note 3.a to 6A003.b.4.b"),
                               reg("15 CFR part 774, Supplement No. 1, ECCN 6A993", "Related Controls (1), (2)")]},
        "instead": "6A993.a",
        "text": "Note 3.a to 6A003.b.4.b: 6A003.b.4.b does not control imaging cameras with a maximum frame rate "
                "equal to or less than 9 Hz; such cameras are described in 6A993.a"}],
}

# What the CCL data cannot decide (listed in docs/rules.md, generated from the pack).
CCL_LIMITS = [
    "6A003 RS 1 points to § 742.6(a)(2)(iii) and (v): (iii) is read (licences BIS may issue for consumer-ready "
    "civil cameras: a licence listed in items[].licenses covers the finding, and the finding names the "
    "provision); the text of (v) could not be read from a source reachable here (UNCONFIRMED): RS 1 gives "
    "license_required where the stated facts place the camera in it.",
    "Footnotes 2 and 4 (special provisions for certain thermal imaging cameras, § 742.4(a), § 742.6(a)(2), "
    "(4)(ii)) are not in the data: review for 6A003.b.4 and 6A993 cameras to those rows.",
    "Scopes in words other than a paragraph list (\"software for items controlled by 1B001 for NP reasons\", "
    "\"meets the parameters of 1C101\", \"for use in civil telecommunications\") give review for the items "
    "they may concern; only the parameters declared here are read.",
    "Scopes that are only \"software / technology / equipment for the items of ECCNs ... [for XX reasons]\" (93 "
    "controls) are decided from items[].for_eccn as stated; the tool does not check that the item's own ECCN fits "
    "the item it is stated to be for (6D001 software stated to be for an EAR99 item is read as outside the NS "
    "scope). A pointed-to control that itself points further (1E101 NP -> 1D001 NP -> 1B001) gives review.",
]

# Chemical Weapons Convention: destinations not listed in Supplement No. 2 to part 745 (the States
# Parties) are the group CWC:non-party of rules/us-ear/destination-lists.yaml
# (scripts/build_destination_lists.py).
CWC_NON_STATES_PARTIES = ["group:CWC:non-party"]
CWC_CITES = [reg("15 CFR 742.18"), reg("15 CFR part 745, Supplement No. 2")]
# Reasons for control an entry lists whose scope and requirement its License Requirements state in
# words outside the Country Chart table (the CW rows: "The Commerce Country Chart is not designed to
# determine licensing requirements for items controlled for CW reasons"): (ECCN, reason) -> one
# control per part of the entry, the paragraphs read from the entry's own sentence.
WORDED_CONTROLS: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("1C350", "CW"): [
        {"paragraphs": ["b"], "target": {
            "kind": "destinations", "outcome": "license_required",
            "destinations": [{"include": CWC_NON_STATES_PARTIES, "exclude": []}],
            "note": "Schedule 2 chemicals and mixtures in 1C350.b: licence required to States not Party to the CWC",
            "citations": CWC_CITES}},
        {"paragraphs": ["c"], "target": {
            "kind": "destinations", "outcome": "review",
            "destinations": [{"include": CWC_NON_STATES_PARTIES, "exclude": []}],
            "note": "Schedule 3 chemicals in 1C350.c: licence to CWC non-States Parties unless an End-Use Certificate "
                    "was obtained before export (§ 745.2)",
            "citations": CWC_CITES + [reg("15 CFR 745.2")]}}],
    ("1C351", "CW"): [
        {"paragraphs": ["d.15", "d.16"], "target": {
            "kind": "destinations", "outcome": "license_required", "destinations": [{"include": ["*"], "exclude": []}],
            "note": "ricin (1C351.d.15) and saxitoxin (1C351.d.16): licence required for CW reasons to all "
                    "destinations, including Australia, Canada and the United Kingdom",
            "citations": [reg("15 CFR 742.18")]}}],
    # "CW applies to entire entry": the sentence then states the requirement per paragraph ("identified in
    # 1C355.a", "identified in 1C355.b"); each part names the words that must be in the entry's text.
    ("1C355", "CW"): [
        {"paragraphs": ["a"], "entire_entry_words": "Schedule 2 chemicals and mixtures identified in 1C355.a to "
                                                    "States not Party to the CWC",
         "target": {
            "kind": "destinations", "outcome": "license_required",
            "destinations": [{"include": CWC_NON_STATES_PARTIES, "exclude": []}],
            "note": "CWC Schedule 2 chemicals and mixtures in 1C355.a: licence required to States not Party to the CWC",
            "citations": CWC_CITES}},
        {"paragraphs": ["b"], "entire_entry_words": "Schedule 3 chemicals and mixtures identified in 1C355.b to "
                                                    "States not Party to the CWC, unless an End Use Certificate",
         "target": {
            "kind": "destinations", "outcome": "review",
            "destinations": [{"include": CWC_NON_STATES_PARTIES, "exclude": []}],
            "note": "Schedule 3 chemicals in 1C355.b: licence to CWC non-States Parties unless an End-Use Certificate "
                    "was obtained before export (§ 745.2)",
            "citations": CWC_CITES + [reg("15 CFR 745.2")]}}],
}

# Destination sets written out in words in the chart column of CCL entries.
AI_ALT = {
    "statement": "BIS announced on 2025-05-13 that it will not enforce the January 2025 AI Diffusion "
                 "rule (90 FR 4544); the licence scope of the October 2023 / April 2024 rules "
                 "(D:1, D:4 and D:5 excluding A:5 and A:6, plus Macau) is the one enforced",
    "citations": [fr("90 FR 4544", "AI Diffusion IFR, 2025-01-13"),
                  {"kind": "other", "ref": "BIS press release 2025-05-13; GAO decision B-337935"},
                  fr("88 FR 73458", "October 2023 advanced computing IFR")],
}
AI_ALT_SCOPE = [{"include": ["group:D:1", "group:D:4", "group:D:5"], "exclude": ["group:A:5", "group:A:6"]},
                {"include": ["MO"], "exclude": []}]

WORLDWIDE = [{"include": ["*"], "exclude": []}]

# pattern on the chart text -> target (destinations, outcome, citations, alternative)
TARGET_PATTERNS: list[tuple[str, dict[str, Any]]] = [
    (r"742\.6\(a\)\(6\)\(iii\)\(A\)", {
        "kind": "destinations", "destinations": WORLDWIDE, "outcome": "license_required",
        "citations": [reg("15 CFR 742.6(a)(6)(iii)(A)")],
        "alternative": {**AI_ALT, "destinations": AI_ALT_SCOPE}}),
    (r"742\.6\(a\)\(6\)\(iii\)\(B\)", {
        "kind": "destinations", "outcome": "license_required",
        "destinations": [{"include": ["AE"], "exclude": []},
                         {"include": ["group:D:1", "group:D:4", "group:D:5"],
                          "exclude": ["group:A:5", "group:A:6"]}],
        "citations": [reg("15 CFR 742.6(a)(6)(iii)(B)")],
        "alternative": {**AI_ALT, "destinations": AI_ALT_SCOPE}}),
    (r"742\.6\(a\)\(13\)", {
        "kind": "destinations", "destinations": WORLDWIDE, "outcome": "license_required",
        "citations": [reg("15 CFR 742.6(a)(13)")],
        "alternative": {**AI_ALT, "destinations": []}}),
    (r"^(Worldwide control|To or within any destination worldwide)", {
        "kind": "destinations", "destinations": WORLDWIDE, "outcome": "license_required"}),
    (r"^To or within Macau or a destination specified in Country Group D:5", {
        "kind": "destinations", "outcome": "license_required",
        "destinations": [{"include": ["MO", "group:D:5"], "exclude": []}]}),
    (r"^China, Russia,? or Venezuela", {
        "kind": "destinations", "outcome": "license_required",
        "destinations": [{"include": ["CN", "RU", "VE"], "exclude": []}],
        "citations": [reg("15 CFR 742.6(a)(7)")]}),
    (r"ALL destinations, except Canada", {
        "kind": "destinations", "outcome": "license_required",
        "destinations": [{"include": ["*"], "exclude": ["CA"]}],
        "citations": [reg("15 CFR part 742")]}),
    (r"required for all destinations, as specified in § 742\.13", {
        "kind": "destinations", "outcome": "license_required", "destinations": WORLDWIDE,
        "citations": [reg("15 CFR 742.13")]}),
    (r"to Iraq or Pakistan or transfer within Iraq or Pakistan", {
        "kind": "destinations", "outcome": "license_required",
        "destinations": [{"include": ["IQ", "PK"], "exclude": []}],
        "citations": [reg("15 CFR 742.6"), reg("15 CFR 746.3")]}),
    (r"to Iraq (or|and) transfer within Iraq", {
        "kind": "destinations", "outcome": "license_required",
        "destinations": [{"include": ["IQ"], "exclude": []}],
        "citations": [reg("15 CFR 746.3")]}),
    (r"to Pakistan or transfer within Pakistan", {
        "kind": "destinations", "outcome": "license_required",
        "destinations": [{"include": ["PK"], "exclude": []}],
        "citations": [reg("15 CFR 742.6")]}),
    (r"to North Korea for anti-terrorism reasons", {
        "kind": "destinations", "outcome": "license_required",
        "destinations": [{"include": ["KP"], "exclude": []}],
        "citations": [reg("15 CFR 742.19")]}),
    (r"^Refer to § 742\.15", {
        "kind": "destinations", "outcome": "license_required",
        "destinations": [{"include": ["*"], "exclude": ["CA"]}],
        "citations": [reg("15 CFR 742.15(a)", "EI: licence to all destinations except Canada")]}),
    (r"See § 746\.8 for specific license requirements", {
        "kind": "destinations", "outcome": "license_required",
        "destinations": [{"include": ["RU", "BY"], "exclude": []}],
        "citations": [reg("15 CFR 746.8"), reg("15 CFR 746.5")]}),
    # UN: a licence to the countries under UN Security Council arms embargoes named in 746.1(b)(2) (the
    # group UN:arms-embargo of rules/us-ear/destination-lists.yaml; the chart's footnote 1 rows miss CAR)
    # (0A617 prints "§ 764.1(b)": a misprint of § 746.1(b), the only UN-controls section of the EAR)
    (r"See § (?:7[46]6|764)\.1(\(b\))? (of the EAR )?for UN controls", {
        "kind": "destinations", "outcome": "license_required",
        "destinations": [{"include": ["group:UN:arms-embargo"], "exclude": []}],
        "citations": [reg("15 CFR 746.1(b)(2)-(3)")]}),
    # destinations not listed in Supplement No. 2 to part 745 (the CWC States Parties): the group
    # CWC:non-party of rules/us-ear/destination-lists.yaml (scripts/build_destination_lists.py)
    (r"CWC non-States Parties", {
        "kind": "destinations", "outcome": "license_required",
        "destinations": [{"include": ["group:CWC:non-party"], "exclude": ["IL", "TW"]}],
        "citations": CWC_CITES}),
]

# Section references the eCFR misprints (read as the section meant)
MISPRINTED_REFS = {"15 CFR 764.1(b)": "15 CFR 746.1(b)"}

# Licence exceptions available to an entry by item list rather than by the entry's own
# licence-exception lines (§ 740.8 NAC/ACA eligible items).
NAC_ITEMS = ["3A090.a", "3A090.b", "4A090", "3A001.z", "4A003.z", "4A004.z", "4A005.z", "5A002.z",
             "5A004.z", "5A992.z", "5D002.z", "5D992.z"]

PARA_RE = r"[a-z](?:\.[0-9]+(?:\.[a-z](?:\.[0-9]+(?:\.[a-z])?)?)?)?"
REASON_RE = re.compile(r"\b(CB|NP|NS|MT|RS|FC|CC|AT|UN|EI|SL|CW|SI|SS)(?=\b|\d)")
COLUMN_RE = re.compile(r"\b(CB|NP|NS|MT|RS|FC|CC|AT) Column (\d)")
ECCN_IN_TEXT = re.compile(r"\b([0-9][A-E][0-9]{3})\b")


# --------------------------------------------------------------------------- parsing helpers


def country(name: str) -> str:
    c = resolve(name) or resolve(name.replace(", Republic of", "").strip())
    if c is None:
        raise SystemExit(f"cannot map chart row {name!r} to ISO 3166")
    return c.code


def expand_range(a: str, b: str) -> list[str] | None:
    """``a.1`` .. ``a.3`` -> a.1, a.2, a.3; ``k`` .. ``n`` -> k, l, m, n."""
    pa, pb = a.split("."), b.split(".")
    if len(pa) != len(pb) or pa[:-1] != pb[:-1]:
        return None
    x, y = pa[-1], pb[-1]
    if x.isdigit() and y.isdigit():
        rng = [str(i) for i in range(int(x), int(y) + 1)]
    elif len(x) == 1 and len(y) == 1 and x.isalpha() and y.isalpha():
        rng = [chr(c) for c in range(ord(x), ord(y) + 1)]
    else:
        return None
    if not rng or len(rng) > 40:
        return None
    return [".".join(pa[:-1] + [r]) for r in rng]


def parse_para_list(text: str, eccn: str) -> list[str] | None:
    """A text that is only a list of paragraphs of ``eccn`` -> the paragraphs; else None.

    Accepts ``3A001.b.2``, ``.b.3``, ``b.3``, ``a.2 to a.14``, ``.a, .d, and .x``,
    ``paragraphs .a and .x``, ``items controlled by 5A992.z.1``.
    """
    t = text.strip().rstrip(".").strip()
    t = re.sub(r"^(?:to |apply to |applies to )", "", t)
    t = re.sub(r"^(?:the )?(?:items controlled by |paragraphs? |items in )", "", t)
    t = re.sub(r"\s+only$", "", t)
    t = t.replace(f"ECCN {eccn}", eccn)
    if ECCN_IN_TEXT.search(t.replace(eccn, "")):
        return None
    t = t.replace(eccn + ".", ".").replace(eccn, "")
    parts = re.split(r"\s*(?:,\s*(?:and|or)\s+|,|\s+and\s+|\s+or\s+)\s*", t)
    out: list[str] = []
    for p in parts:
        p = p.strip()
        if not p:
            continue
        m = re.fullmatch(rf"\.?({PARA_RE})\s+(?:to|through)\s+\.?({PARA_RE})", p)
        if m:
            rng = expand_range(m.group(1), m.group(2))
            if rng is None:
                return None
            out += rng
            continue
        m = re.fullmatch(rf"\.?({PARA_RE})", p)
        if not m:
            rel = re.fullmatch(r"\.?([0-9]+(?:\.[a-z](?:\.[0-9]+)?)?)", p)
            if not rel or not out:
                return None
            # ".16" after "d.15" is d.16: a number continues the previous paragraph
            comps = out[-1].split(".")
            nums = [i for i, c in enumerate(comps) if c.isdigit()]
            if not nums:
                return None
            out.append(".".join(comps[:nums[-1]] + [rel.group(1)]))
            continue
        out.append(m.group(1))
    return out or None


def mentioned_paras(text: str, eccn: str) -> list[str]:
    """Paragraphs of ``eccn`` named in a free-text condition: ``3A001.b.2`` and the siblings listed
    after it (``6A003.a.3 or a.4``, ``5A001.b (except .b.5), .c, .d``, ``1B001.d.4, e and f``).
    Paragraphs excepted in a parenthesis are not included (see :func:`para_lists`)."""
    return para_lists(text, eccn)[0]


_LIST_SEP = re.compile(r"\s*(?:,\s*(?:and|or)\s+|,|\s+and\s+|\s+or\s+|\s+and\s+to\s+(?:all\s+items\s+in\s+)?)\s*")
_EXCEPT_PAREN = re.compile(r"\s*\(except\s+([^()]*(?:\([^()]*\)[^()]*)*)\)")
_DESC_PAREN = re.compile(r"\s*\((?!except)[^()]*(?:\([^()]*\)[^()]*)*\)")


def _list_token(t: str, pos: int, prev: str | None, eccn: str) -> tuple[str, int] | None:
    """One paragraph of a list at ``pos``: ``3A001.b.2``, ``.c``, ``b.4`` (a bare single letter
    only after a list separator, before a separator or the end), ``.16`` (continues the previous)."""
    m = re.compile(rf"(?:{eccn}\.|\.)?({PARA_RE})(?![\w\-])").match(t, pos)
    if m:
        para = m.group(1)
        explicit = m.group(0).startswith((eccn, "."))
        if not explicit and "." not in para and (
                prev is None or not re.match(r"(?:\s*(?:[,;)]|and\b|or\b|$)|\.(?:\s|$)|\s*\((?!except))", t[m.end():])):
            return None  # "a frame rate": English, not a paragraph
        return para, m.end()
    m = re.compile(r"\.?([0-9]+(?:\.[a-z](?:\.[0-9]+)?)?)(?![\w\-])").match(t, pos)
    if m and prev:
        comps = prev.split(".")
        nums = [i for i, c in enumerate(comps) if c.isdigit()]
        if nums:
            return ".".join(comps[:nums[-1]] + [m.group(1)]), m.end()
    return None


def para_lists(text: str, eccn: str) -> tuple[list[str], list[str], list[str], str]:
    """Read the lists of ``eccn`` paragraphs a control's words name.

    Returns (paragraphs, excepted, excepted_in_words, rest): ``excepted`` are sub-paragraphs a
    parenthesis excepts outright ("5A001.b (except .b.5)"), ``excepted_in_words`` those it excepts
    with words the tool cannot check ("a.3 (except a.3.d.2.a and a.3.e for lead selenide based
    FPAs)"), ``rest`` the text with the lists removed (the words that may qualify them).
    """
    paras: list[str] = []
    excepted: list[str] = []
    worded: list[str] = []
    rest: list[str] = []
    pos = 0
    for m in re.finditer(rf"{eccn}\.(?={PARA_RE})", text):
        if m.start() < pos:
            continue
        rest.append(text[pos:m.start()])
        i = m.start()
        prev: str | None = None
        while True:
            tok = _list_token(text, i, prev, eccn)
            if tok is None:
                break
            para, i = tok
            rng = re.compile(rf"\s+(?:to|through)\s+(?:{eccn}\.|\.)?({PARA_RE})(?![\w\-])").match(text, i)
            group = [para]
            if rng:
                group = expand_range(para, rng.group(1)) or [para, rng.group(1)]
                i = rng.end()
            for g in group:
                if g not in paras:
                    paras.append(g)
            prev = group[-1]
            ex = _EXCEPT_PAREN.match(text, i)
            if ex:
                inner = ex.group(1)
                names = [p for p in _plain_list(inner, eccn, prev)]
                words = re.sub(rf"(?:{eccn}\.|\.)?{PARA_RE}|\band\b|\bor\b|,", " ", inner).strip()
                (worded if words else excepted).extend(n for n in names if n not in excepted + worded)
                i = ex.end()
            else:
                desc = _DESC_PAREN.match(text, i)
                if desc and not ECCN_IN_TEXT.search(desc.group(0)):
                    i = desc.end()
            sep = _LIST_SEP.match(text, i)
            if not sep or _list_token(text, sep.end(), prev, eccn) is None:
                break
            i = sep.end()
        pos = i
    rest.append(text[pos:])
    return paras, excepted, worded, re.sub(r"\s+", " ", " ".join(rest)).strip()


def _plain_list(inner: str, eccn: str, parent: str) -> list[str]:
    """Paragraph names in an "(except ...)" parenthesis, relative names read under ``parent``'s entry."""
    out = []
    for m in re.finditer(rf"(?:{eccn}\.|\.)?({PARA_RE})(?![\w\-])", inner):
        p = m.group(1)
        if "." in p or m.group(0).startswith((".", eccn)):
            out.append(p)
    return out


def other_eccns(text: str, eccn: str) -> list[str]:
    """ECCNs other than ``eccn`` named in ``text``, except those named only as the source of
    parameters ("meet or exceed the parameters in 3A201"), which do not widen the scope."""
    return [m.group(1) for m in ECCN_IN_TEXT.finditer(text) if m.group(1) != eccn
            and not re.search(r"(parameters|criteria)\b[^;]{0,40}$", text[:m.start()])]


def parse_scope(control: str, eccn: str) -> tuple[str, dict[str, Any]]:
    """Control text -> (reason, scope)."""
    t = re.sub(r"\s+", " ", control).strip()
    t = re.sub(r"\b([0-9][A-E][0-9]{3})\. (?=[a-z]\b)", r"\1.", t)  # "8A620. b" (a stray space) is 8A620.b
    m = re.match(r"^(Russian industry sector sanctions?) appl(?:y|ies) to (.*)$", t)
    if m:
        reason, rest = "RISS", m.group(2)
    else:
        m = re.match(r"^([A-Z]{2}) appl(?:y|ies)(?: to)?\s*(.*)$", t)
        if not m:
            return "?", {"kind": "conditional", "paragraphs": [], "condition": t}
        reason, rest = m.group(1), m.group(2)
    rest = COLUMN_RE.split(rest)[0].strip() if COLUMN_RE.search(rest) else rest.strip()
    rest = re.sub(r"\s+(?:[A-Z]{2})$", "", rest) if COLUMN_RE.search(control) else rest
    r2 = re.sub(r"\s+of this entry$", "", rest.rstrip(".").strip())
    # "CW applies to entire entry. A license is required for CW reasons to CWC non-States Parties ...":
    # the sentences after the scope state the target (read by TARGET_PATTERNS), not a condition
    r2 = re.sub(r"^((?:the )?entire entry)\. A license is required for CW reasons to CWC non-States Parties.*$",
                r"\1", r2)
    if re.fullmatch(r"(?:the )?entire entry", r2):
        return reason, {"kind": "entire"}
    m = re.fullmatch(r"(?:the )?entire entry,? except:? (.*)", r2)
    if m:
        paras = parse_para_list(m.group(1), eccn)
        if paras:
            return reason, {"kind": "except", "paragraphs": paras}
        # "except: 9A610.b; parts ... in 9A610.x if being exported ...; and 9A610.y": plain pieces are
        # excepted outright, pieces in words qualify only the paragraphs they name
        plain: list[str] = []
        qualified: list[str] = []
        pieces = [re.sub(r"^(?:and|or)\s+", "", x.strip()) for x in m.group(1).split(";")]
        for piece in pieces:
            pp = parse_para_list(piece, eccn)
            if pp:
                plain += pp
                continue
            named = mentioned_paras(piece, eccn)
            if not named or other_eccns(piece, eccn):
                break
            # the first paragraph a worded piece names is the one it excepts ("x ... for use in ... b")
            qualified.append(named[0])
        else:
            if qualified and plain:
                return reason, {"kind": "except", "paragraphs": plain + [q for q in qualified if q not in plain],
                                "qualified": [q for q in qualified if q not in plain], "condition": rest}
        named = mentioned_paras(m.group(1), eccn)
        if named and not other_eccns(m.group(1), eccn):
            # the exception names paragraphs of this entry with a qualifier: items outside them
            # are controlled; items inside them depend on the qualifier
            return reason, {"kind": "except", "paragraphs": named, "condition": rest}
        return reason, {"kind": "conditional", "paragraphs": [], "condition": rest}
    paras = parse_para_list(r2, eccn)
    if paras:
        return reason, {"kind": "paragraphs", "paragraphs": paras}
    return reason, _worded_scope(rest, eccn)


def _worded_scope(rest: str, eccn: str) -> dict[str, Any]:
    """A list of this entry's paragraphs, perhaps with exceptions in parentheses and a qualifier in
    words: the paragraphs bound it; without words left over the list is the whole scope."""
    named, excepted, worded, words = para_lists(rest, eccn)
    if named and not other_eccns(rest, eccn) and not rest.startswith(("entire", "the entire")):
        sc: dict[str, Any] = {"kind": "paragraphs", "paragraphs": named}
        if excepted:
            sc["excluded"] = excepted
        if worded:
            sc["excluded_if"] = worded
            sc["excluded_condition"] = "; ".join(
                w for w in _EXCEPT_PAREN.findall(rest) if set(_plain_list(w, eccn, "")) & set(worded))
        if _FILLER.sub("", words):
            sc["condition"] = rest
        return sc
    return {"kind": "conditional", "paragraphs": named, "condition": rest}


# words around a paragraph list that only restate it ("items controlled by 6A002.a.1, a.2 and .c.")
_FILLER = re.compile(r"(?:\b(?:and|or|to|items?|controlled|by|in|of|this|entry|paragraphs?|software|commodities)\b"
                     r"|[\s.,;:“”\"])+")


# --------------------------------------------------------------------------- scopes pointing to other entries
# "NP applies to "software" for the "development", "production" or "use" of items controlled by 1B001 for NP
# reasons", "RS applies to "technology" for items controlled by 6A002.a.1, .a.2, ... or 6A008.j.1", "NS applies
# to entire entry except "software" for 1C607.a.10, .a.11 ...": the scope is the software / technology /
# equipment FOR the items of the entries named (for a reason, where the words say so). The words before the
# list may only name what the entry itself controls (software, technology, equipment ... for development,
# production, use ...); anything else ("for the disposal of", "computerized finger-print equipment", a second
# clause) leaves the scope in words (review). The engine decides it from items[].for_eccn.
_REF_HEAD = re.compile(
    r"^(?:(?:software|technology|equipment|commodities|items|parts|components|specially designed|modified|"
    r"required|for|the|of|or|and|development|production|use|operation|maintenance|installation|repair|overhaul|"
    r"refurbishing|controlled|by|in|under|specified|ECCNs?|engines)\b[\s,]*)+$")
_REF_LIST_HEAD = re.compile(
    r"^(?P<head>.*?\b)(?:(?:controlled|specified) (?:by|in|under)|controlled for (?P<r1>[A-Z]{2}) reasons in"
    r"(?: ECCNs?)?|for|in|required for)(?: ECCNs?)? (?P<list>[0-9][A-E][0-9]{3}\b.*)$")
_REF_REASON_TAIL = re.compile(r"^(?P<list>.*?) for (?P<r2>[A-Z]{2}) reasons$")
_REF_ITEM = re.compile(r"^(?:ECCN )?(?P<base>[0-9][A-E][0-9]{3})(?P<para>(?:\.[a-z0-9]+)*)"
                       r"(?: to (?:ECCN )?(?P<base2>[0-9][A-E][0-9]{3})(?P<para2>(?:\.[a-z0-9]+)*))?$")
_REF_REL = re.compile(r"^\.?(?P<para>[a-z](?:\.[a-z0-9]+)*)$")


def _ref_list(text: str, known: list[str]) -> list[str] | None:
    """'1A002, 1B001 to 1B003, or 6A002.a.1, .a.2' -> the ECCNs (ranges of entries expanded to the entries on
    the CCL, paragraphs relative to the last entry named); None unless the text is only such a list."""
    out: list[str] = []
    last: str | None = None
    for tok in re.split(r",\s*(?:and\s+|or\s+)?|\s+(?:and|or)\s+", text.strip()):
        tok = tok.strip()
        m = _REF_ITEM.match(tok)
        if m and m.group("base2"):
            a, b = m.group("base") + m.group("para"), m.group("base2") + m.group("para2")
            if m.group("para") or m.group("para2"):  # 3A001.b to 3A001.h: paragraphs of one entry
                if m.group("base") != m.group("base2"):
                    return None
                rng = expand_range(m.group("para")[1:], m.group("para2")[1:])
                if rng is None:
                    return None
                out += [m.group("base") + "." + p for p in rng]
            else:
                if a[:2] != b[:2] or a > b:
                    return None
                out += [e for e in known if a <= e <= b and e[:2] == a[:2]]
            last = m.group("base")
            continue
        if m:
            if m.group("base") not in known:
                return None
            out.append(m.group("base") + m.group("para"))
            last = m.group("base")
            continue
        r = _REF_REL.match(tok)
        if r and last is not None:
            out.append(f"{last}.{r.group('para')}")
            continue
        return None
    return out or None


def parse_refers(condition: str, eccn: str, known: list[str]) -> dict[str, Any] | None:
    """A worded scope that is only "software / technology / equipment for the items of ECCNs ... [for XX reasons]"
    (or the entire entry except that), perhaps in clauses of that form ("... controlled by 5A992.z.1 or software
    controlled by 5D992.z.1") -> {"refers": [{"eccn", "reason"?}...], "refers_mode": "in"|"except"}."""
    t = re.sub(r"[“”\"]", "", re.sub(r"\s+", " ", condition)).strip().rstrip(".").strip()
    mode = "in"
    m = re.fullmatch(r"(?:the )?entire entry,? except:? (?:for )?(.*)", t)
    if m:
        mode, t = "except", m.group(1)
    if not re.match(r"^(?:specially designed |modified )*(?:software|technology|equipment)\b", t):
        return None
    refs: list[dict[str, Any]] = []
    for clause in _clauses(t):
        got = _ref_clause(clause.strip(), known)
        if not got:
            return None
        refs += [r for r in got if r not in refs]
    if any(r["eccn"].split(".")[0] == eccn for r in refs):
        return None
    return {"refers": refs, "refers_mode": mode}


# a conjunction that opens a further clause of the same form ("... or software controlled by 5D992.z.1",
# "... and for engines controlled under 9A101", "... and equipment in ECCN 0B505.a")
_REF_CLAUSE = re.compile(r",?\s+(?:and|or)\s+(?=(?:for\s+)?(?:software|technology|equipment|engines|commodities)\s+"
                         r"(?:controlled|specified|in ECCN)\b)")


def _clauses(t: str) -> list[str]:
    """Cut at each conjunction opening a further clause, once the text before it has named an entry
    ("technology for commodities and software controlled by 1A101, ..." is one clause)."""
    out: list[str] = []
    start = 0
    for m in _REF_CLAUSE.finditer(t):
        if ECCN_IN_TEXT.search(t[start:m.start()]):
            out.append(t[start:m.start()])
            start = m.end()
    return out + [t[start:]]


def _ref_clause(t: str, known: list[str]) -> list[dict[str, Any]] | None:
    m = _REF_LIST_HEAD.match(t)
    if not m or not _REF_HEAD.match(m.group("head").strip() or "items"):
        return None
    lst, reason = m.group("list"), m.group("r1")
    tail = _REF_REASON_TAIL.match(lst)
    if tail:
        if reason:
            return None
        lst, reason = tail.group("list"), tail.group("r2")
    refs = _ref_list(lst, known)
    if not refs:
        return None
    return [{"eccn": r, **({"reason": reason} if reason else {})} for r in refs]


def parse_target(chart_text: str, reason: str, un_rows: list[str]) -> dict[str, Any]:
    t = re.sub(r"\s+", " ", chart_text).strip()
    m = COLUMN_RE.search(t)
    if m:
        col = f"{m.group(1)} {m.group(2)}"
        extra = t[m.end():].strip(" .,")
        d: dict[str, Any] = {"kind": "column", "column": col}
        refs = re.findall(r"§ (7\d\d\.[0-9a-zA-Z().]+[0-9a-zA-Z)])", extra)
        if refs:
            d["citations"] = [reg(f"15 CFR {r}") for r in refs]
            d["note"] = extra
        return d
    bare = re.fullmatch(r"Column (\d)\.?", t)
    if bare and reason in ("CB", "NP", "NS", "MT", "RS", "FC", "CC", "AT"):
        return {"kind": "column", "column": f"{reason} {bare.group(1)}",
                "note": "the entry prints only 'Column 1'; read as the column of its reason for control"}
    if re.fullmatch(r"N/A\.?", t):
        return {"kind": "pointer", "outcome": "review",
                "note": "the entry names no chart column for this reason (N/A); its text says where the "
                        "requirement is stated"}
    for pat, tgt in TARGET_PATTERNS:
        if re.search(pat, t):
            out = json.loads(json.dumps(tgt))
            if out.get("destinations") == "UN_ROWS":
                out["destinations"] = [{"include": un_rows, "exclude": []}]
            cites = out.setdefault("citations", [])
            for r in re.findall(r"§ (7\d\d\.[0-9a-zA-Z().]+[0-9a-zA-Z)])", t):
                ref = MISPRINTED_REFS.get(f"15 CFR {r}", f"15 CFR {r}")
                if not any(c["ref"].startswith(ref) for c in cites):
                    cites.append(reg(ref))
            return out
    refs = re.findall(r"§ (7\d\d\.[0-9a-zA-Z().]+[0-9a-zA-Z)])", t)
    return {"kind": "pointer", "outcome": "review",
            "citations": [reg(f"15 CFR {r}") for r in refs],
            "note": "the chart cannot be read for this control; the entry points elsewhere in the EAR"}


def split_controls(entry: dict[str, Any]) -> list[tuple[str, str]]:
    """(control, chart) rows; rows that print two controls in one cell are split."""
    out = []
    for cc in entry["countryChart"]:
        control, chart = cc["control"], cc["countryChart"]
        parts = re.findall(r"([A-Z]{2} applies to entire entry)", control)
        cols = COLUMN_RE.findall(chart)
        if len(parts) > 1 and len(cols) == len(parts):
            for p, (r, n) in zip(parts, cols, strict=True):
                out.append((p, f"{r} Column {n}"))
            continue
        out.append((control, chart))
    return out


def parse_flag(symbol: str, text: str | None, eccn: str) -> dict[str, Any]:
    """One licence-exception line of an entry -> availability, value limit, scope."""
    t = re.sub(r"\s+", " ", text or "").strip()
    d: dict[str, Any] = {"text": t}
    if symbol != "STA":
        d.update(parse_clauses(symbol, t, eccn))
        rs = [r for c in d["clauses"] if c["effect"] == "no" and not c["paragraphs"] for r in c.get("reasons", [])]
        if rs:
            d["reasons_excluded"] = list(dict.fromkeys(rs))
    if symbol == "STA":
        d["available"] = "yes"
        d["restriction"] = t
        named = named_paras_loose(t, eccn)
        if named:
            d["paragraphs_named"] = named
        return d
    if re.fullmatch(r"N/A\.?", t) or not t:
        d["available"] = "no"
        return d
    limit = re.search(r"\$\s?([0-9][0-9,]*)", t)
    if limit:
        d["value_limit_usd"] = int(limit.group(1).replace(",", ""))
    m = re.search(r"N/A for ((?:[A-Z]{2}(?:, | and | or |,? and )?)+)(?=[;.\s]|$)", t)
    if m and re.fullmatch(r"(?:[A-Z]{2}(?:, | and | or |,? and )?)+", m.group(1)) and "reasons_excluded" not in d:
        d["reasons_excluded"] = re.findall(r"[A-Z]{2}", m.group(1))
    rest = t
    if limit:
        rest = re.sub(r"^Yes:?\s*", "", rest)
    if re.fullmatch(r"(Yes|Yes\.)", t):
        d["available"] = "yes"
        return d
    m = re.fullmatch(r"\$\s?[0-9][0-9,]*\.?", t)
    if m:
        d["available"] = "yes"
        return d
    m = re.fullmatch(r"\$\s?[0-9][0-9,]*[;,]? ?(?:N/A for (?:[A-Z]{2}(?:, | and | or |,? and )?)+)\.?", t)
    if m:
        d["available"] = "yes"
        return d
    m = re.fullmatch(r"(?:Yes,? )?(?:\$\s?[0-9][0-9,]*,? )?except (?:for )?(.*?)\.?", t)
    if m:
        paras = parse_para_list(m.group(1), eccn)
        if paras:
            d["available"] = "yes"
            d["except_paragraphs"] = paras
            return d
    m = re.fullmatch(r"(?:Yes,? )?(?:\$\s?[0-9][0-9,]*,? )?for (.*?)\.?", rest) or re.fullmatch(
        r"Yes,? (?:for )?(.*?)\.?", t)
    if m:
        paras = parse_para_list(m.group(1), eccn)
        if paras:
            d["available"] = "paragraphs"
            d["paragraphs"] = paras
            return d
    d["available"] = "conditional"
    named = named_paras_loose(t, eccn)
    if named:
        d["paragraphs_named"] = named
        if re.match(r"^(Yes,? for|Yes for|\$\s?[0-9][0-9,]* for)\b", t) and "N/A" not in t and "except" not in t:
            d["mode"] = "include"
        elif re.match(r"^(N/A for|Yes,? except|\$\s?[0-9][0-9,]*[,;]? (?:N/A for|except))", t) and not re.search(
                r"\bYes for\b", t[3:]):
            d["mode"] = "exclude"
    return d


def named_paras_loose(text: str, eccn: str) -> list[str]:
    """Paragraphs named in a licence-exception line: ``3A001.a.2 to a.14``, ``b.8``, ``.g``."""
    t = text.replace(eccn + ".", " .")
    out: list[str] = []
    tok = r"(?:(?<=\s)\.|(?<=^)\.|(?<=\()\.)?"
    pat = re.compile(rf"(?:(?<=\s)|(?<=^)|(?<=\())(\.?)({PARA_RE})(?:\s+(?:to|through)\s+\.?({PARA_RE}))?(?=[\s,;.)]|$)")
    del tok
    for m in pat.finditer(t):
        dot, a, b = m.group(1), m.group(2), m.group(3)
        if not dot and "." not in a:
            continue  # a bare letter is English ("a"), not a paragraph
        paras = expand_range(a, b) if b else [a]
        for p in paras or [a]:
            if p not in out:
                out.append(p)
    return out


# --------------------------------------------------------------------------- licence-exception clauses
#
# A licence-exception line of a CCL entry is a list of clauses separated by ";" (and by ", except",
# ", $"): "$3000 for 3A002.g", "Yes for 3A001.a.2 to a.14", "N/A for MT", "N/A for 4A003.b, c, and z",
# "$5000 for all other items", "except to Country Group E:1 or E:2", "not to D:3". Each clause
# becomes {effect: yes|no, paragraphs (empty = the rest of the entry), reasons (N/A for MT),
# value_limit_usd, condition (words that qualify it)}; destination limits go to dest_only /
# dest_exclude; text the parser cannot read is kept as ``residual`` (the exception is then only
# ever ``conditional`` for the items it may concern: fail closed).

REASON_CODES = {"NS", "RS", "MT", "NP", "CB", "CC", "FC", "AT", "UN", "EI", "SL", "CW", "SI", "SS"}
_GROUP = r"[A-E]:\d"
_MONEY = r"\$\s?([0-9][0-9,]*)"
_QUALIFIERS = re.compile(r"\b(having|exceed|exceeding|that|which|when|unless|except|if|provided|for use|"
                         r"used|usable|not|only|below|above|less|more|greater|designed|modified|rated|civil|"
                         r"end uses?|military)\b|\d", re.I)
_SEE = re.compile(r"\s*\(?\s*(?:See|see)\s+(?:§+|Supplement|part)[^;]*?(?:of the EAR|to part 740(?: of the EAR)?)"
                  r"(?: for [a-z ]+)?\s*\)?\.?")


def _money(s: str) -> int:
    return int(s.replace(",", "").replace(" ", ""))


def _reasons(text: str) -> list[str] | None:
    """"MT", "MT, NP", "NP items", "MT reasons" -> reason codes; else None."""
    t = re.sub(r"\b(items|reasons)\b", "", text).strip(" .,")
    codes = re.split(r"\s*(?:,\s*(?:and|or)\s+|,|\s+and\s+|\s+or\s+)\s*", t)
    if codes and all(c in REASON_CODES for c in codes):
        return codes
    return None


def _dest_refs(text: str) -> list[str]:
    """"Country Group E:1 or E:2", "D:3", "Macau, destinations in Country Group D:5" -> refs."""
    out = [f"group:{g}" for g in re.findall(_GROUP, text)]
    for name, code in (("Macau", "MO"), ("Canada", "CA")):
        if re.search(rf"\b{name}\b", text):
            out.insert(0, code)
    return out


def _top_split(body: str) -> list[str]:
    """Split at commas / "and" / "or" outside parentheses."""
    parts, depth, cur = [], 0, ""
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        if depth == 0:
            m = re.match(r",\s*(?:and|or)\s+|,\s*|\s+and\s+|\s+or\s+", body[i:])
            if m and ch in ", ":
                parts.append(cur)
                cur = ""
                i += m.end()
                continue
        cur += ch
        i += 1
    parts.append(cur)
    return [p.strip(" .") for p in parts if p.strip(" .")]


def _para_clauses(effect: str, body: str, eccn: str, limit: int | None) -> list[dict[str, Any]] | None:
    """``body`` is a paragraph list, possibly "<plain words> specified in <list>" or with a qualifier in
    parentheses after some elements ("b.8 (except for ... exceeding 18 GHz)")."""
    body = body.strip().rstrip(".").strip()
    body = re.sub(r"^(?:and|or)\s+", "", body)

    def mk(eff: str, paras: list[str], cond: str | None = None, lim: int | None = None) -> dict[str, Any]:
        d: dict[str, Any] = {"effect": eff, "paragraphs": paras}
        if lim is not None:
            d["value_limit_usd"] = lim
        if cond:
            d["condition"] = cond
        return d

    paras = parse_para_list(body, eccn)
    if paras is None:
        m = re.fullmatch(r"(.+?)\s+(?:specified|controlled|described|classified)\s+(?:in|by|under)\s+(.+)", body)
        if m and not _QUALIFIERS.search(m.group(1)) and not ECCN_IN_TEXT.search(m.group(1)):
            paras = parse_para_list(m.group(2), eccn)
    if paras is not None:
        return [mk(effect, paras, None, limit)]
    if "(" in body and not other_eccns(re.sub(r"\([^()]*(?:\([^()]*\)[^()]*)*\)", "", body), eccn):
        plain: list[str] = []
        extra: list[dict[str, Any]] = []
        for el in _top_split(body):
            m = re.fullmatch(r"(.*?)\s*\((.*)\)", el)
            head, qual = (m.group(1), m.group(2)) if m else (el, None)
            ps = parse_para_list(head, eccn) if head else None
            if ps is None:
                break
            if qual is None:
                plain += ps
                continue
            q_named = named_paras_loose(qual, eccn)
            if effect == "yes" and re.match(r"except\b", qual) and q_named:
                plain += ps
                extra.append(mk("no", q_named, qual))
            else:
                extra.append(mk(effect, ps, qual, limit))
        else:
            out = ([mk(effect, plain, None, limit)] if plain else []) + extra
            if out:
                return out
    named = named_paras_loose(body, eccn)
    # words naming other ECCNs qualify the clause; an exclusion that names this entry's own
    # paragraphs ("controlled by 1A002.a, having ... materials controlled by 1C010.c") stays bounded
    if not named or (other_eccns(body, eccn) and not (effect == "no" and mentioned_paras(body, eccn))):
        return None
    return [mk(effect, named, body, limit)]


def _segments(t: str) -> list[tuple[str, bool]]:
    """Split a line into clauses at ';', ', except', ' except N/A', ', $', ', N/A' and 'Yes:'.

    Each clause comes with whether it follows an "except" (a continuation after ';' otherwise
    continues the clause before it: "...; and 8A002.r")."""
    t = re.sub(r"^Yes:\s*", "", t)
    out: list[tuple[str, bool]] = []
    pos, after_except = 0, False
    for m in re.finditer(r";\s*|,?\s+except\s+(?=N/A\b)|,\s+except\s+(?:for\s+)?|\.\s+(?=N/A\b)|,\s+(?=\$)"
                         r"|,\s+(?=N/A\b)", t):
        seg = t[pos:m.start()].strip(" .,")
        if seg:
            out.append((seg, after_except))
        after_except = "except" in m.group(0)
        pos = m.end()
    seg = t[pos:].strip(" .,")
    if seg:
        out.append((seg, after_except))
    return out


def parse_clauses(symbol: str, text: str, eccn: str) -> dict[str, Any]:  # noqa: C901 - one branch per form
    """A licence-exception line -> {clauses, dest_only, dest_exclude, residual}."""
    t = re.sub(r"\s+", " ", text or "").strip()
    out: dict[str, Any] = {"clauses": []}
    if not t or re.fullmatch(r"(?:N/A|No)\.?", t):
        out["clauses"].append({"effect": "no", "paragraphs": []})
        return out
    dest_only: list[str] = []
    dest_excl: list[str] = []
    t = _SEE.sub("", t).strip()
    # destination limits stated on the line
    m = re.search(rf",?\s*except (?:for exports? (?:or|and) reexports? )?to (?:Country Groups? )?({_GROUP}"
                  rf"(?:,? (?:or|and) {_GROUP})*)\.?", t)
    if m and "outside" not in t[max(0, m.start() - 40):m.end()]:
        dest_excl += _dest_refs(m.group(1))
        t = (t[:m.start()] + t[m.end():]).strip(" ,.")
    m = re.search(rf",?\s*not to (?:Country Groups? )?({_GROUP}(?:,? (?:or|and) {_GROUP})*)", t)
    if m:
        dest_excl += _dest_refs(m.group(1))
        t = (t[:m.start()] + t[m.end():]).strip(" ,.")
    m = re.search(rf"\s*for all Country Group ([A-E](?::\d)?) destinations,? except those also listed under "
                  rf"Country Group ({_GROUP})", t)
    if m:
        dest_only.append(f"group:{m.group(1)}")
        dest_excl.append(f"group:{m.group(2)}")
        t = (t[:m.start()] + t[m.end():]).strip(" ,.")
    m = re.search(r",?\s*except N/A for (Macau(?:, destinations in Country Group D:\d)?)(?:,? or (.*))?$", t)
    if m:
        dest_excl += _dest_refs(m.group(1))
        t = t[:m.start()].strip(" ,.") + (f"; N/A for {m.group(2)}" if m.group(2) else "")
    residual: list[str] = []
    clauses: list[dict[str, Any]] = []
    for seg, after_except in _segments(t):
        s = seg
        # "Yes" / "$X" / "N/A" alone
        if re.fullmatch(r"Yes", s):
            clauses.append({"effect": "yes", "paragraphs": []})
            continue
        mm = re.fullmatch(rf"(?:Yes,?\s*)?{_MONEY}", s)
        if mm:
            clauses.append({"effect": "yes", "paragraphs": [], "value_limit_usd": _money(mm.group(1))})
            continue
        mm = re.fullmatch(rf"{_MONEY} for all other items", s)
        if mm:
            clauses.append({"effect": "yes", "paragraphs": [], "value_limit_usd": _money(mm.group(1))})
            continue
        # "N/A for MT", "N/A for MT and for 1B001.a", "N/A for NP items", "UN" after "Yes, except"
        rs0 = _reasons(s)
        if rs0 is not None and clauses:
            clauses.append({"effect": "no", "paragraphs": [], "reasons": rs0})
            continue
        mm = re.fullmatch(r"(?:N/A|not available)\s+for\s+(.+)", s)
        if mm:
            pieces = re.split(r"\s+and\s+for\s+|\s+and\s+(?=\d[A-E]\d{3})", mm.group(1))
            got: list[dict[str, Any]] = []
            for piece in pieces:
                rs = _reasons(piece)
                if rs is not None:
                    got.append({"effect": "no", "paragraphs": [], "reasons": rs})
                    continue
                cs = _para_clauses("no", piece, eccn, None)
                if cs is None:
                    got = []
                    break
                got += cs
            if got:
                clauses += got
            else:
                residual.append(seg)
            continue
        # "$X for <paras>", "$X: <paras>", "Yes for <paras>", "Yes, for <paras>"
        mm = re.fullmatch(rf"(?:Yes,?\s*)?{_MONEY}\s*(?:for|:)\s+(.+)", s) or re.fullmatch(
            r"(Yes),?\s+(?:for\s+)?(.+)", s)
        if mm:
            limit = _money(mm.group(1)) if mm.group(1) != "Yes" else None
            cs = _para_clauses("yes", mm.group(2), eccn, limit)
            if cs is not None:
                clauses += cs
                continue
            # "Yes for components": words qualifying the whole entry
            if not named_paras_loose(mm.group(2), eccn):
                c = {"effect": "yes", "paragraphs": [], "condition": mm.group(2)}
                if limit is not None:
                    c["value_limit_usd"] = limit
                clauses.append(c)
                continue
        # "except <paras>" after a first clause ("Yes, except a.3 ..."), "N/A for <words ... paras>"
        if clauses:
            prev = clauses[-1]
            eff = "no" if after_except else prev["effect"]
            lim = prev.get("value_limit_usd") if eff == "yes" and prev["paragraphs"] else None
            cs = _para_clauses(eff, re.sub(r"^except\s+", "", s), eccn, lim)
            if cs is not None:
                clauses += cs
                continue
        residual.append(seg)
    out["clauses"] = clauses
    if dest_only:
        out["dest_only"] = dest_only
    if dest_excl:
        out["dest_exclude"] = list(dict.fromkeys(dest_excl))
    if residual:
        out["residual"] = "; ".join(residual)
    return out


def known_paragraphs(entry: dict[str, Any]) -> list[str] | None:
    items = entry.get("items")
    if not items:
        return None
    paras = [str(i["paragraph"]) for i in items if i.get("kind") == "item" and i.get("paragraph")]
    return sorted(set(paras)) or None


# --------------------------------------------------------------------------- main


def pack_meta(pid: str, title: str, desc: str, sources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": pid, "version": EFFECTIVE, "jurisdiction": "US-EAR", "title": title,
            "description": desc, "sources": sources, "seeds": [], "as_of": EFFECTIVE}


def build_chart(src: Path) -> dict[str, Any]:
    d = json.loads((src / "country-chart.json").read_text("utf-8"))
    rows: dict[str, Any] = {}
    for name, v in d["countries"].items():
        code = country(name)
        if code in rows:
            raise SystemExit(f"two chart rows map to {code}: {rows[code]['name']!r} and {name!r}")
        unknown = [m for m in v["marks"] if m not in d["columns"]]
        if unknown:
            raise SystemExit(f"row {name!r} marks unknown columns {unknown}")
        rows[code] = {"name": name, "marks": v["marks"], "footnotes": v["footnotes"]}
    embargoed = {}
    for name, v in d["embargoed"].items():
        code = country(name)
        embargoed[code] = {"name": name, "pointer": v["pointer"], "footnotes": v["footnotes"],
                           "citations": [reg(s) for s in EMBARGO_SECTIONS[code]]}
    territories = {}
    for name, v in d["territoryInheritance"].items():
        code, parent = country(name), country(v["row"])
        if code == parent:
            continue
        territories[code] = {"row": parent, "basis": v["basis"],
                             "citations": [reg("15 CFR 738.3(b)")] + (
                                 [fr("85 FR 83788")] if code == "HK" else [])}
    for region, parent in REGION_ROWS.items():
        territories[region] = {"row": parent, "basis": "region of Ukraine: the Ukraine row applies, with its "
                                                      "footnote (§ 746.6)",
                               "citations": [reg("15 CFR 746.6")]}
    footnotes = {}
    for n, text in d["footnotes"].items():
        eff = FOOTNOTE_EFFECTS.get(n)
        if eff is None:
            raise SystemExit(f"footnote {n} has no curated effect: add it to FOOTNOTE_EFFECTS")
        footnotes[n] = {"text": text, **eff}
    alld = d["allDestinationsEntries"]
    all_dest = []
    for e in alld["noLicenceExceptions"]:
        all_dest.append({**parse_all_dest(e), "exceptions": []})
    for e in alld["govOnly"]["entries"]:
        all_dest.append({**parse_all_dest(e), "exceptions": ["GOV"],
                         "exception_condition": alld["govOnly"]["condition"]})
    return {
        "kind": "country_chart",
        "pack": pack_meta("us-ear-country-chart", "Commerce Country Chart (15 CFR 738 Supp. 1), eCFR 2026-07-23",
                          "Generated by scripts/convert_chart.py from country-chart.json "
                          "(ear-country-chart-ccl-2026-07-23); do not edit by hand.",
                          [CHART_CIT, reg("15 CFR 738.4", "how to read the chart")]),
        "effective_from": EFFECTIVE,
        "source_url": d["source"]["url"],
        "columns": d["columns"],
        "column_labels": {k: re.sub(r"\s+", " ", v.replace("- ", "-")) for k, v in d["columnLabels"].items()},
        "rows": dict(sorted(rows.items())),
        "embargoed": embargoed,
        "territories": territories,
        "footnotes": footnotes,
        "all_destinations": all_dest,
        "all_destinations_citations": [reg("15 CFR 738.3(a)(1)")],
        "no_mark_caveat": d["procedure"]["noMarkCaveat"],
    }


def parse_all_dest(text: str) -> dict[str, Any]:
    m = re.match(r"^([0-9][A-E][0-9]{3})((?:\.[a-z0-9]+)*)\s*(?:\((.*)\))?$", text.strip())
    if not m:
        raise SystemExit(f"cannot read § 738.3(a)(1) entry {text!r}")
    para = m.group(2).lstrip(".")
    out: dict[str, Any] = {"eccn": m.group(1), "text": text}
    out["paragraphs"] = [para] if para else []
    if m.group(3):
        out["condition"] = m.group(3)
    return out


def build_ccl(src: Path, un_rows: list[str]) -> tuple[dict[str, Any], dict[str, int]]:
    d = json.loads((src / "ccl.json").read_text("utf-8"))
    entries: dict[str, Any] = {}
    stats = {"entries": 0, "controls": 0, "column": 0, "destinations": 0, "pointer": 0,
             "scope_entire": 0, "scope_except": 0, "scope_paragraphs": 0, "scope_conditional": 0,
             "scope_refers": 0}
    known = sorted(e["eccn"] for e in d["entries"])
    for e in d["entries"]:
        eccn = e["eccn"]
        controls = []
        for control, chart in split_controls(e):
            reason, scope = parse_scope(control, eccn)
            if scope["kind"] == "conditional" and scope.get("condition") and not scope.get("paragraphs"):
                refers = parse_refers(scope["condition"], eccn, known)
                if refers:
                    scope.update(refers)
                    stats["scope_refers"] += 1
            target = parse_target(chart, reason, un_rows)
            col = target.get("column") or ""
            scope.update(SCOPE_DETAILS.get((eccn, reason, col), {}))
            controls.append({"reason": reason, "text": re.sub(r"\s+", " ", control).strip(),
                             "chart_text": re.sub(r"\s+", " ", chart).strip(), "scope": scope, "target": target})
            stats["controls"] += 1
            stats[target["kind"]] += 1
            stats["scope_" + scope["kind"]] += 1
        rfc = (e.get("reasonForControl") or "").strip().rstrip(".")
        reasons: list[str] = []
        for r in REASON_RE.findall(rfc):
            if r not in reasons:
                reasons.append(r)
        have = {c["reason"] for c in controls}
        for r in reasons:
            if r in have or r in ("AT", "SS") or (not controls and (eccn, r) not in WORDED_CONTROLS):
                continue
            worded = worded_controls(e, r)
            if worded:
                controls += worded
                stats["controls"] += len(worded)
                stats["destinations"] += len(worded)
                stats["scope_paragraphs"] += len(worded)
                continue
            # a reason the entry lists but its Country Chart table does not state: never silent
            controls.append({"reason": r, "text": f"{r} is listed in the entry's Reason for Control ({rfc}) "
                                                  "but its Country Chart table names no column for it",
                             "chart_text": "", "scope": {"kind": "entire"},
                             "target": {"kind": "pointer", "outcome": "review",
                                        "citations": [reg(f"15 CFR part 774, Supplement No. 1, ECCN {eccn}")],
                                        "note": "read the entry's License Requirements section"}})
            stats["controls"] += 1
            stats["pointer"] += 1
            stats["scope_entire"] += 1
        exceptions = {sym: parse_flag(sym, txt, eccn) for sym, txt in e["licenceExceptionFlags"].items()}
        if any(eccn == i.split(".")[0] for i in NAC_ITEMS):
            exceptions["NAC"] = {"text": "§ 740.8 eligible items", "available": "paragraphs",
                                 "paragraphs": sorted({i.split(".", 1)[1] for i in NAC_ITEMS
                                                       if i.startswith(eccn + ".")}) or ["*"]}
            exceptions["ACA"] = dict(exceptions["NAC"])
            for sym in ("NAC", "ACA"):
                if exceptions[sym]["paragraphs"] == ["*"]:
                    exceptions[sym] = {"text": "§ 740.8 eligible items", "available": "yes"}
        entries[eccn] = {
            "heading": re.sub(r"\s+", " ", e["heading"] or "").strip(),
            "reasons": reasons,
            "reasons_text": rfc,
            "controls": controls,
            "exceptions": exceptions,
            "paragraphs": known_paragraphs(e),
        }
        if eccn in OUTSIDE:
            entries[eccn]["outside"] = OUTSIDE[eccn]
        stats["entries"] += 1
    pack = {
        "kind": "ccl",
        "pack": pack_meta("us-ear-ccl", "Commerce Control List entries: reasons for control, chart columns, "
                          "licence exceptions (15 CFR 774 Supp. 1), eCFR 2026-07-23",
                          "Generated by scripts/convert_chart.py from ccl.json "
                          "(ear-country-chart-ccl-2026-07-23); do not edit by hand.",
                          [CCL_CIT, reg("15 CFR 738.2", "structure of an ECCN")]),
        "effective_from": EFFECTIVE,
        "source_url": d["source"]["url"],
        "parameters": CCL_PARAMETERS,
        "limits": CCL_LIMITS,
        "entries": entries,
    }
    return pack, stats


def worded_controls(e: dict[str, Any], reason: str) -> list[dict[str, Any]] | None:
    """The controls of a reason the entry states in words outside its Country Chart table (the CW rows),
    from WORDED_CONTROLS; the paragraphs curated there must be the ones the entry's sentence names."""
    eccn = e["eccn"]
    parts = WORDED_CONTROLS.get((eccn, reason))
    if not parts:
        return None
    sentence = next((re.sub(r"\s+", " ", i["text"]).strip() for i in e.get("items") or []
                     if i.get("kind") == "text" and i.get("text", "").startswith(f"{reason} applies to ")), None)
    if sentence is None:
        raise SystemExit(f"{eccn}: no '{reason} applies to' sentence in the entry for WORDED_CONTROLS")
    if sentence.startswith(f"{reason} applies to entire entry"):
        for part in parts:  # the sentence states the requirement of each curated part in these words
            if part.get("entire_entry_words") not in sentence:
                raise SystemExit(f"{eccn} {reason}: {part.get('entire_entry_words')!r} not in the entry's sentence")
    else:
        named = para_lists(sentence[len(f"{reason} applies to "):], eccn)[0]
        curated = [p for part in parts for p in part["paragraphs"]]
        if named != curated:
            raise SystemExit(f"{eccn} {reason}: the entry names {named}, WORDED_CONTROLS {curated}")
    text = sentence if len(sentence) <= 400 else sentence[:397] + "..."
    return [{"reason": reason, "text": text, "chart_text": part["target"]["note"],
             "scope": {"kind": "paragraphs", "paragraphs": part["paragraphs"]}, "target": part["target"]}
            for part in parts]


def check_catalog(src: Path, exceptions_yaml: Path) -> None:
    """Every symbol of the eCFR catalog must be described in license-exceptions.yaml."""
    import yaml

    cat = json.loads((src / "license-exception-catalog.json").read_text("utf-8"))
    have = yaml.safe_load(exceptions_yaml.read_text("utf-8"))["exceptions"]
    for ex in cat["exceptions"]:
        for sym in ex["symbols"]:
            if sym not in have:
                raise SystemExit(f"licence exception {sym} ({ex['section']}) missing from {exceptions_yaml}")
            want = ex["sectionNumber"]
            if have[sym]["section"] != f"15 CFR {want}":
                raise SystemExit(f"{sym}: section {have[sym]['section']!r} != catalog {want!r}")


def main() -> None:
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SRC
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else DEFAULT_OUT
    out.mkdir(parents=True, exist_ok=True)
    chart = build_chart(src)
    un_rows = sorted([c for c, r in chart["rows"].items() if 1 in r["footnotes"]] + list(chart["embargoed"]))
    ccl, stats = build_ccl(src, un_rows)
    for name, data in (("country-chart.json", chart), ("ccl.json", ccl)):
        (out / name).write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", "utf-8")
    exc = out / "license-exceptions.yaml"
    if exc.exists():
        check_catalog(src, exc)
    print(f"rows {len(chart['rows'])}, embargoed {len(chart['embargoed'])}, territories "
          f"{len(chart['territories'])}, footnotes {len(chart['footnotes'])}; " +
          ", ".join(f"{k} {v}" for k, v in stats.items()))


if __name__ == "__main__":
    main()
