"""Per-item scope of restricted-party licence requirements (``kind: party_list_scopes``).

A party-list hit is found once per shipment, but its licence requirement reaches only some
items: an Entity List requirement applies to items subject to the EAR (15 CFR 744.11(a)), and
each entry's licence-requirement text may narrow it ("items on the CCL", "when used in projects
specified in § 746.8(a)(4)"); a Military End-User List entry requires a licence only for the items
in Supplement No. 2 to part 744 (15 CFR 744.21(a)(1)), any item for Russia and Belarus
(§ 744.21(a)(2)). :func:`scope_party_findings` evaluates each party-list finding against every
item, using the jurisdiction step's status for the item:

* some item in scope -> the finding keeps its outcome and says which items it reaches and which not;
* none in scope but one undecided (no ECCN, jurisdiction unknown, a condition in words) ->
  ``review`` naming the missing fact;
* no item in scope -> ``clear`` with the reason per item (the match is still reported).

The facts (which findings, list defaults, scope texts, the Supplement No. 2 ECCNs) live in the
``party_list_scopes`` pack (``rules/us-ear/party-list-scopes.yaml``); this module is the procedure.
"""

# No ``from __future__ import annotations`` here (issue 10): pydantic evaluates string annotations one
# by one when it creates a model class (a compile and an eval each); written as expressions they cost
# nothing more, ~25 % less per class, ~11 ms CPU of every check over these modules' ~80 pack and
# result models. Forward references (a class defined further down) are quoted.

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from ecscreen.domain.countries import Country
from ecscreen.model import Citation, Finding, Item, Outcome, Step, new_list
from ecscreen.packs.registry import LoadedPack, PackMeta, Registry, Strict, normalize_eccn, register_kind


class EccnSet(Strict):
    members: list[str]
    note: str | None = None
    citations: list[Citation] = Field(min_length=1)


class ListScope(Strict):
    default: str
    all_items_destinations: list[str] = Field(default_factory=new_list)
    citations: list[Citation] = Field(min_length=1)


class ScopeDef(Strict):
    id: str
    match: list[str] = Field(min_length=1)
    covers: Literal["all_subject", "ccl", "supplement_2"]
    text: str
    condition: str | None = None
    ear99: Literal["out", "review"] = "out"
    ear99_condition: str | None = None
    citations: list[Citation] = Field(min_length=1)


class PartyListScopesPack(Strict):
    kind: Literal["party_list_scopes"]
    pack: PackMeta
    findings: list[str] = Field(min_length=1)
    supplement_2_eccns: EccnSet
    lists: dict[str, ListScope]
    scopes: list[ScopeDef] = Field(min_length=1)


@dataclass
class _Index:
    """The party_list_scopes pack compiled: its scopes by id with their regexes, and Supplement No. 2's countries."""

    pack: PartyListScopesPack
    pack_id: str
    res: list[tuple[ScopeDef, re.Pattern[str]]]
    by_id: dict[str, ScopeDef]
    supp2: frozenset[str]


_ATTR = "_ecscreen_list_scopes"


def _hook(reg: Registry, lp: LoadedPack, raw: Any) -> None:
    from ecscreen.errors import PackError

    m: PartyListScopesPack = lp.model
    if getattr(reg, _ATTR, None) is not None:
        raise PackError(f"a second party_list_scopes pack was loaded ({m.pack.id}); only one is allowed",
                        file=str(lp.path))
    by_id = {s.id: s for s in m.scopes}
    for code, ls in m.lists.items():
        if ls.default not in by_id:
            raise PackError(f"list {code}: default scope {ls.default!r} is not defined", file=str(lp.path),
                            field=f"lists.{code}.default")
    res = [(s, re.compile("|".join(f"(?:{p})" for p in s.match), re.I)) for s in m.scopes]
    supp2 = frozenset((normalize_eccn(e) or e).split(".")[0] for e in m.supplement_2_eccns.members)
    setattr(reg, _ATTR, _Index(pack=m, pack_id=m.pack.id, res=res, by_id=by_id, supp2=supp2))


register_kind("party_list_scopes", PartyListScopesPack, _hook)

_LR_NOTE = "Licence requirement (list text): "
Reach = Literal["in", "out", "unknown"]


def _list_text(f: Finding) -> str | None:
    for n in f.notes:
        if n.startswith(_LR_NOTE):
            return n[len(_LR_NOTE):]
    return None


def _item_label(item: Item, i: int) -> str:
    return f"item {i} ({item.description}, {item.eccn or 'no ECCN'})"


def _reach(sc: ScopeDef, idx: _Index, item: Item, eccn: str | None, status: str) -> tuple[Reach, str]:
    if status == "not_subject":
        return "out", "not subject to the EAR (jurisdiction step)"
    if sc.covers == "all_subject":
        r: tuple[Reach, str] = ("in", "an item subject to the EAR")
    elif eccn is None:
        return "unknown", "no ECCN given: classify the item to decide"
    elif sc.covers == "supplement_2":
        base = eccn.split(".")[0]
        r = ("in", f"{base} is in Supplement No. 2 to part 744") if base in idx.supp2 else \
            ("out", f"{eccn} is not in Supplement No. 2 to part 744")
    else:  # ccl
        if eccn == "EAR99":
            if sc.ear99 == "review":
                return "unknown", f"EAR99: within the requirement only if {sc.ear99_condition or 'the entry says so'}"
            return "out", "EAR99 is not on the CCL"
        r = ("in", f"{eccn} is on the CCL")
    if r[0] == "in" and sc.condition:
        return "unknown", f"{r[1]}; within the requirement only if {sc.condition}"
    if r[0] == "in" and status == "unknown":
        return "unknown", f"{r[1]} if subject to the EAR (jurisdiction undetermined)"
    return r


def _dest_codes(dest: Country, reg: Registry, on: dt.date) -> set[str]:
    codes = {dest.code, dest.alpha2}
    for c in list(codes):
        codes.update(reg.territory_parents(c, on))
    return codes


def scope_party_findings(findings: list[Finding], items: list[Item], eccns: list[str | None],
                         status: dict[int, str], dest: Country, registry: Registry, as_of: dt.date) -> list[Finding]:
    """Restrict each party-list finding to the items its licence requirement reaches (see module doc)."""
    idx: _Index | None = getattr(registry, _ATTR, None)
    if idx is None:
        return findings
    out: list[Finding] = []
    for f in findings:
        if f.item_index is not None or f.rule_id not in idx.pack.findings:
            out.append(f)
            continue
        out.append(_scope_one(f, idx, items, eccns, status, dest, registry, as_of))
    return out


def _scope_one(f: Finding, idx: _Index, items: list[Item], eccns: list[str | None], status: dict[int, str],
               dest: Country, registry: Registry, as_of: dt.date) -> Finding:
    code = f.rule_id.split("-", 1)[1] if "-" in f.rule_id else f.rule_id
    ls = idx.pack.lists.get(code)
    if ls is None:
        return f
    text = _list_text(f)
    sc = next((s for s, rx in idx.res if text and rx.search(text)), None) or idx.by_id[ls.default]
    how = f"the entry's licence requirement reads '{text}'" if text else f"the {code} list's requirement"
    if ls.all_items_destinations and _dest_codes(dest, registry, as_of) & set(ls.all_items_destinations):
        sc = idx.by_id.get("all_subject", sc)
        how = (f"{dest.label} is one of {', '.join(ls.all_items_destinations)}, where the {code} requirement reaches "
               "any item subject to the EAR")
    reaches = [(i, *_reach(sc, idx, it, eccns[i] if i < len(eccns) else None, status.get(i, "subject")))
               for i, it in enumerate(items)]
    steps = [Step(name=f"list scope: item {i}", outcome=r, detail=f"{_item_label(items[i], i)}: {why}",
                  inputs={"scope": sc.id, "jurisdiction": status.get(i, "subject")},
                  citations=list(sc.citations), deciding=r != "out")
             for i, r, why in reaches]
    ins = [i for i, r, _ in reaches if r == "in"]
    unk = [(i, why) for i, r, why in reaches if r == "unknown"]
    outs = [(i, why) for i, r, why in reaches if r == "out"]
    g = f.model_copy(deep=True)
    g.steps += steps
    for c in list(sc.citations) + list(ls.citations):
        if c not in g.citations:
            g.citations.append(c)
    not_for = "; ".join(f"not {_item_label(items[i], i)}: {why}" for i, why in outs)
    scope_txt = f"The requirement covers {sc.text} ({how})"
    if ins:
        g.message = (f"{f.message} {scope_txt}: it applies to "
                     f"{', '.join(_item_label(items[i], i) for i in ins)}" + (f"; {not_for}" if not_for else "") + ".")
        if unk:
            g.notes.append("undecided for " + "; ".join(f"{_item_label(items[i], i)}: {why}" for i, why in unk))
        return g
    if unk:
        if g.outcome.rank > Outcome.review.rank:
            g.notes.insert(0, f"would be {g.outcome.value} for the items the requirement reaches; undecided here")
            g.outcome = Outcome.review
        g.message = (f"{f.message} {scope_txt}: undecided for "
                     + "; ".join(f"{_item_label(items[i], i)}: {why}" for i, why in unk)
                     + (f"; {not_for}" if not_for else "") + ".")
        return g
    g.notes.insert(0, f"no licence requirement from this list entry for these items (was {f.outcome.value} "
                      "for items within its scope)")
    g.outcome = Outcome.clear
    g.message = (f"{f.message} {scope_txt}; none of the items is within it ({not_for}): no licence is required on "
                 "this ground. Other controls (end use, Country Chart) are screened separately.")
    return g
