"""The screening engine: ``screen(shipments, ...) -> Report``.

Per shipment: resolve the destination (fail closed) -> party screening -> per item:
jurisdiction (is the item subject to the EAR?) -> generic rules of every ``kind: rules`` pack
-> Commerce Country Chart -> coverage by licences held / licence exceptions -> decision.

Rule conditions are compiled once per registry into closures (see :class:`CompiledPack`);
evaluation is three-valued (True / False / unknown-with-missing-facts).
"""

from __future__ import annotations

import datetime as dt
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from itertools import islice
from typing import Any

from ecscreen import __version__
from ecscreen.domain import policy as _policy
from ecscreen.domain.countries import Country, resolve, unknown_message
from ecscreen.domain.eccn import eccn_matches
from ecscreen.domain.textmatch import matcher
from ecscreen.engine import chartmemo as _chartmemo
from ecscreen.engine.fastmodel import built
from ecscreen.engine.inputcheck import check_parameters, check_texts, has_text
from ecscreen.engine.intervals import Intervals, group_dates, territory_dates
from ecscreen.model import (
    Citation,
    Coverage,
    Evidence,
    Finding,
    InputError,
    Item,
    ItemJurisdiction,
    Outcome,
    PartyScreeningSummary,
    Report,
    Shipment,
    ShipmentResult,
)
from ecscreen.packs.registry import (
    Authorisation,
    Cond,
    NamedList,
    ParamCond,
    PartyCountryCond,
    PartyHitCond,
    PartyNameCond,
    PhraseCond,
    Registry,
    Rule,
    RulesPack,
    normalize_eccn,
)

# --------------------------------------------------------------------------- context


@dataclass
class PartyFactLite:
    """A party-screening hit as the rule conditions see it."""

    party_index: int
    role: str
    name: str
    list_code: str
    entry_name: str
    footnotes: list[int]
    score: float
    band: str = "strong"  # "possible": rules depending on this hit give at most review, never assert it
    confirm_with: tuple[str, ...] = ()


@dataclass
class ShipCtx:
    """A shipment as the compiled conditions read it: destination, country codes, date and party hits."""

    shipment: Shipment
    dest: Country
    dest_codes: frozenset[str]
    exporter_codes: frozenset[str]
    as_of: dt.date
    party_codes: list[tuple[str, frozenset[str]]]  # (role, codes)
    party_hits: list[PartyFactLite]
    _parties_key: tuple[tuple[Any, str], ...] | None = None

    def parties_key(self) -> tuple[tuple[Any, str], ...]:
        """Each party's (role, name): what party_name_in and fact_missing parties / end_user read (made once)."""
        got = self._parties_key
        if got is None:
            got = self._parties_key = tuple((p.role, p.name) for p in self.shipment.parties)
        return got


@dataclass
class ItemCtx:
    """An item as the compiled conditions read it: its index, normalised ECCN and origin codes."""

    item: Item
    index: int
    eccn: str | None  # normalised; None when missing
    origin_codes: frozenset[str]


class Ev:
    """Light evidence record for the hot path; becomes a pydantic Evidence only when a rule fires."""

    __slots__ = ("field", "value", "matched", "detail", "score")

    def __init__(self, field: str, value: Any = None, matched: Any = None, detail: str | None = None,
                 score: float | None = None) -> None:
        self.field = field
        self.value = value
        self.matched = matched
        self.detail = detail
        self.score = score

    def model(self) -> Evidence:
        return Evidence(field=self.field, value=self.value, matched=self.matched, detail=self.detail,
                        score=self.score)


_ev = Ev


# A condition result: (state, evidence, missing) with state True / False / None (unknown)
Res = tuple[bool | None, list[Ev], list[str]]
Fn = Callable[[ShipCtx, ItemCtx | None], Res]

_F: Res = (False, [], [])
_NO_SHIP: Any = None
PLAN_MEMO_SIZE = 10_000  # rule plans / item profiles kept (cleared when full; only speed depends on it)
CODES_MEMO_SIZE = 10_000  # (country, date) -> codes with territory parents (cleared when full)
PACK_PLAN_MEMO_SIZE = 20_000  # per pack: plans per (candidate list, items' skip sets) (cleared when full)
SHIP_MEMO_SIZE = 4_096  # per pack: shipment keys whose shipment-level rules were all False (older half dropped when full)
CHART_MEMO_SIZE = 12_000  # chart determinations kept (line-independent: 10,811 distinct at 1M ERP rows) (first-made half dropped when full; only speed and memory depend on it)


def pack_party_lists(registry: Registry) -> list[Any]:
    """The lists of ``registry``'s ``kind: party_list`` packs, made from the documents the registry already
    validated (the compiled snapshot), not read and validated again."""
    from ecscreen.parties.store import OwnList, read_list

    return [read_list(lp.path, parsed=lp.model if isinstance(lp.model, OwnList) else None)
            for lp in registry.of_kind("party_list")]


def _drop_oldest_half(memo: dict[Any, Any]) -> None:
    """Bound a memo: forget the older half of its entries (insertion order: a memo that re-inserts an entry
    on each use drops the least recently used half), keeping the recent ones."""
    for k in list(islice(memo, len(memo) // 2 + 1)):
        del memo[k]


def _item_eccns(it: Item, idx: int) -> tuple[str | None, list[InputError]]:
    """The item's ECCN normalised, and input errors for a malformed ``eccn`` or ``for_eccn``."""
    errors: list[InputError] = []
    e = normalize_eccn(it.eccn) if it.eccn is not None else None
    if it.eccn is not None and e is None:
        errors.append(InputError(field=f"items[{idx}].eccn", message=f"malformed ECCN {it.eccn!r}"))
    if it.for_eccn is not None and normalize_eccn(it.for_eccn) is None:
        errors.append(InputError(field=f"items[{idx}].for_eccn", message=f"malformed ECCN {it.for_eccn!r}"))
    return e, errors



def _codes(c: Country, reg: Registry, on: dt.date) -> frozenset[str]:
    codes = {c.code, c.alpha2}
    for code in list(codes):
        codes.update(reg.territory_parents(code, on))
    return frozenset(codes)


# --------------------------------------------------------------------------- compile


class CompiledPack:
    def __init__(self, pack: RulesPack, reg: Registry) -> None:
        self.pack = pack
        self.reg = reg
        # Dates at which anything this pack depends on changes (rule dates, Country Group changes,
        # territory mappings): two dates in the same interval evaluate identically, so caches key
        # on the interval, not the day.
        bounds = {d for r in pack.rules for d in (r.effective_from, r.effective_to) if d}
        self.bounds = Intervals([*bounds, *group_dates(reg), *territory_dates(reg)]).bounds
        self._cand: dict[tuple[frozenset[str], int], list[tuple[Rule, Fn, bool]]] = {}
        self.rules: list[tuple[Rule, Fn, bool]] = []  # (rule, fn, item_scoped)
        # destination sets a rule cannot fire outside of (sound: a False conjunct makes `all` False)
        self.dest_gates: list[Callable[[dt.date], frozenset[str]] | None] = []
        # item gates: for an item-scoped rule, a test of the item's own facts alone (ECCN, description,
        # parameters) that is False only when the rule's condition is False for that item whatever the
        # shipment (see _item_gate); rules are skipped per item on it, memoised per item facts
        self.item_gates: dict[int, Callable[[ItemCtx], bool]] = {}
        self._item_skip: dict[tuple[Any, ...], frozenset[int]] = {}
        self._plans: dict[Any, tuple[list[Any], list[tuple[Rule, Fn, bool, tuple[int, ...]]]]] = {}
        # one plan list per distinct content (see plan): (id(cand), items per item-scoped candidate) -> plan
        self._plan_forms: dict[tuple[int, tuple[tuple[int, ...], ...]], tuple[list[Any], list[Any]]] = {}
        self._masks: dict[tuple[Any, ...], tuple[list[Any], tuple[bool, ...]]] = {}
        # general authorisations per rule (item-level conditions, evaluated per item)
        self.auths: dict[int, list[tuple[Authorisation, Fn]]] = {}
        # names lists of party_name_in conditions, one per list name (shared by the rules naming it)
        self._names_lists: dict[str, _NamesList] = {}
        self._names_union = _NamesUnion()  # the cheap necessary test of every names list of the pack at once
        # the shipment facts the pack's shipment-level rules read (see ship_reads / ship_key; None: some
        # condition is not known to this derivation, no memo) and the keys whose rules were all False
        self.ship_reads: frozenset[str] | None = frozenset()
        self._ship_false: dict[tuple[Any, ...], bool] = {}
        self._split: dict[int, tuple[list[Any], list[Any] | None]] = {}  # see item_entries
        for rule in pack.rules:
            fn, item_scoped = self._compile(rule.when)
            self.rules.append((rule, fn, item_scoped))
            if not item_scoped and self.ship_reads is not None:
                reads = ship_reads(rule.when)
                self.ship_reads = None if reads is None else self.ship_reads | reads
            if rule.authorisations:
                self.auths[id(rule)] = [(a, self._compile(a.when)[0]) for a in rule.authorisations]
            refs = _required_destinations(rule.when)
            self.dest_gates.append(self._country_set(refs) if refs is not None else None)
            if item_scoped:
                g = self._item_gate(rule.when)
                if g is not None:
                    self.item_gates[id(rule)] = g

    def plan(self, dest_codes: frozenset[str], on: dt.date, skips: tuple[frozenset[int], ...] | None
             ) -> list[tuple[Rule, Fn, bool, tuple[int, ...]]]:
        """The candidate rules (in rule order) with, for an item-scoped rule, the indexes of the items it
        is evaluated for: every item but those whose item gate is False (``skips[k]``: rule ids skipped
        for item ``k``; None: no gating, every item). Plans are memoised per (candidate list, the items' skip
        sets): within one pack most items share a skip set, so multi-item orders repeat too (bounded)."""
        cand = self.candidates(dest_codes, on)
        if skips is None:  # one plan per candidate list, shared (plans are only read)
            got = self._plans.get(id(cand))
            if got is not None and got[0] is cand:
                return got[1]
            if len(self._plans) > PACK_PLAN_MEMO_SIZE:
                self._plans.clear()
            plan: list[tuple[Rule, Fn, bool, tuple[int, ...]]] = [(r, f, sc, ()) for r, f, sc in cand]
            self._plans[id(cand)] = (cand, plan)  # the list itself is kept: an id is never reused while it lives
            return plan
        key = (id(cand), skips)
        got = self._plans.get(key)
        if got is not None and got[0] is cand:
            return got[1]
        masks = [self._mask(cand, sk) for sk in skips]
        # the plan is the candidates with, per item-scoped one, the items it runs for (none: left out); keys
        # of other skip sets giving the same items share one list (issue 14, memory: the engine's plan memo
        # holds thousands of keys, most of them a handful of distinct plans)
        form = tuple([tuple([k for k, m in enumerate(masks) if m[pos]]) for pos, (_, _, sc) in enumerate(cand) if sc])
        if len(self._plans) > PACK_PLAN_MEMO_SIZE:
            self._plans.clear()
            self._plan_forms.clear()
        shared = self._plan_forms.get((id(cand), form))
        if shared is not None and shared[0] is cand:
            self._plans[key] = shared
            return shared[1]
        out: list[tuple[Rule, Fn, bool, tuple[int, ...]]] = []
        scoped_idxs = iter(form)
        for rule, fn, scoped in cand:
            if scoped:
                idxs = next(scoped_idxs)
                if not idxs:
                    continue  # False for every item of the shipment
                out.append((rule, fn, True, idxs))
            else:
                out.append((rule, fn, False, ()))
        # the list itself is kept: an id is never reused while it lives
        self._plans[key] = self._plan_forms[(id(cand), form)] = (cand, out)
        return out

    def _mask(self, cand: list[tuple[Rule, Fn, bool]], skip: frozenset[int]) -> tuple[bool, ...]:
        key = (id(cand), skip)
        got = self._masks.get(key)
        if got is not None and got[0] is cand:
            return got[1]
        mask = tuple(not (sc and id(r) in skip) for r, _, sc in cand)
        if len(self._masks) > 5_000:
            self._masks.clear()
        self._masks[key] = (cand, mask)
        return mask

    def skipped_for(self, ic: ItemCtx) -> frozenset[int]:
        """ids of the item-scoped rules whose condition is False for this item whatever the shipment
        (memoised per the item facts the gates read: normalised ECCN, description, parameters)."""
        if not self.item_gates:
            return frozenset()
        it = ic.item
        key = (ic.eccn, it.description, tuple(sorted(it.parameters.items())) if it.parameters else ())
        got = self._item_skip.get(key)
        if got is None:
            got = frozenset(k for k, g in self.item_gates.items() if not g(ic))
            if len(self._item_skip) > 50_000:
                self._item_skip.clear()
            self._item_skip[key] = got
        return got

    def _item_gate(self, c: Cond) -> Callable[[ItemCtx], bool] | None:
        """A test on the item's own facts that is False only if ``c`` is False for the item in any
        shipment; None when no such test exists. Exact, not a heuristic: the conditions used
        (eccn_in, eccn_unclassified, description_has, param) read only the item's normalised ECCN,
        description and parameters and never the shipment, so their state (True / False / unknown)
        is the same in every shipment; ``all`` is False when one conjunct is False, ``any`` when
        every disjunct is."""
        if c.all is not None:
            gates = [g for g in (self._item_gate(x) for x in c.all) if g is not None]
            if not gates:
                return None
            return lambda ic: all(g(ic) for g in gates)
        if c.any is not None:
            sub = [self._item_gate(x) for x in c.any]
            if any(g is None for g in sub):
                return None
            anyg = [g for g in sub if g is not None]
            return lambda ic: any(g(ic) for g in anyg)
        if c.eccn_in is not None or c.eccn_unclassified is not None or c.description_has is not None \
                or c.param is not None:
            fn, _ = self._compile(c)
            return lambda ic: fn(_NO_SHIP, ic)[0] is not False  # type: ignore[arg-type]
        return None

    def ship_key(self, s: ShipCtx) -> tuple[Any, ...] | None:
        """Every fact the pack's shipment-level rules read, as a key (None: not memoised for this shipment):
        the date's interval between the pack's change dates (which rules are in force, and every country set
        they compare with), and per fact of :attr:`ship_reads` its value (the destination's codes when a
        rule reads the destination: a rule gated on destinations has a ``destination_in`` condition).
        Two shipments with equal keys give every shipment-level rule the same state (True / False /
        unknown); only the False state is memoised (it carries no evidence or message)."""
        reads = self.ship_reads
        if reads is None:
            return None
        if "party_hits" in reads and s.party_hits:
            return None  # hits are rare: such shipments are evaluated
        # one slot per fact of _SHIP_FACTS (None where no rule reads it: equal for every shipment)
        return (bisect_right(self.bounds, s.as_of),
                s.dest_codes if "dest" in reads else None,
                s.exporter_codes if "exporter" in reads else None,
                s.shipment.end_use if "end_use" in reads else None,
                tuple(s.party_codes) if "party_codes" in reads else None,
                self._parties_read(s) if "parties" in reads else None,
                _policy.current() if "policy" in reads else None)

    def _parties_read(self, s: ShipCtx) -> tuple[Any, ...]:
        """The parties as the pack's shipment-level rules read them: each party's role (``fact_missing``
        parties / end_user read the roles alone), with its name, or None for a name the pack's
        :class:`_NamesUnion` has rejected. Such a name makes every ``party_name_in`` condition of the pack
        find nothing for that party (``_NamesList.best_of`` asks the union first; the test is exact, see
        there), whatever the name: repeat customers that no list can match then share a key (issue 14: a key
        with every name missed for most ERP orders). Only the union's memo is read (a name not asked yet is
        kept as it is): the matcher runs only where a rule's other conditions let a names list be asked."""
        if not self._names_lists:
            return tuple([role for role, _ in s.parties_key()])
        known = self._names_union.memo
        return tuple([(role, None if known.get(name) is False else name) for role, name in s.parties_key()])

    def item_entries(self, plan: list[tuple[Rule, Fn, bool, tuple[int, ...]]]
                     ) -> list[tuple[Rule, Fn, bool, tuple[int, ...]]] | None:
        """The plan's item-scoped entries (in order), or None when the plan has no shipment-level rule
        (memoised per plan: plans are kept by the plan memos, an id is checked against its list)."""
        got = self._split.get(id(plan))
        if got is not None and got[0] is plan:
            return got[1]
        entries = [e for e in plan if e[2]]
        out = entries if len(entries) < len(plan) else None
        if len(self._split) >= PACK_PLAN_MEMO_SIZE:
            self._split.clear()
        self._split[id(plan)] = (plan, out)
        return out

    def ship_all_false(self, key: tuple[Any, ...]) -> bool:
        return key in self._ship_false

    def remember_ship_false(self, key: tuple[Any, ...]) -> None:
        memo = self._ship_false
        if len(memo) >= SHIP_MEMO_SIZE:
            _drop_oldest_half(memo)
        memo[key] = True

    def candidates(self, dest_codes: frozenset[str], on: dt.date) -> list[tuple[Rule, Fn, bool]]:
        """Rules in force on ``on`` that can fire for this destination (computed once per key)."""
        key = (dest_codes, bisect_right(self.bounds, on))
        hit = self._cand.get(key)
        if hit is None:
            hit = [r for r, gate in zip(self.rules, self.dest_gates, strict=True)
                   if r[0].in_force(on) and (gate is None or dest_codes & gate(on))]
            if len(self._cand) > 20_000:
                self._cand.clear()
            self._cand[key] = hit
        return hit

    # country refs expand per date (groups change over time): cache per (refs, date)
    def _country_set(self, refs: list[str]) -> Callable[[dt.date], frozenset[str]]:
        refs_t = tuple(refs)
        lists = self.pack.lists
        reg = self.reg
        cache: dict[int, frozenset[str]] = {}
        bounds = self.bounds

        def get(on: dt.date) -> frozenset[str]:
            k = bisect_right(bounds, on)
            s = cache.get(k)
            if s is None:
                s = reg.expand(list(refs_t), lists, on)
                cache[k] = s
            return s

        return get

    def _ref_label(self, ref: str) -> str:
        if ref.startswith("group:"):
            return f"Country Group {ref[6:]}"
        if ref.startswith("list:"):
            nl = self.pack.lists[ref[5:]]
            return f"'{nl.description or ref[5:]}'"
        return ref

    def _phrases(self, refs: list[str]) -> list[str]:
        out: list[str] = []
        for p in refs:
            if p.startswith("list:"):
                nl: NamedList = self.pack.lists[p[5:]]
                out += [m for m in nl.members if m not in nl.exclude]
            else:
                out.append(p)
        return out

    def _not_within(self, refs: list[str]) -> tuple[str, ...]:
        out: list[str] = []
        for p in refs:
            if p.startswith("list:"):
                out += self.pack.lists[p[5:]].not_within
        return tuple(out)

    def _eccns(self, refs: list[str]) -> tuple[list[str], list[str]]:
        inc: list[str] = []
        exc: list[str] = []
        for e in refs:
            if e.startswith("list:"):
                nl = self.pack.lists[e[5:]]
                inc += [normalize_eccn(m) or m for m in nl.members]
                exc += [normalize_eccn(m) or m for m in nl.exclude]
            else:
                inc.append(e)
        return inc, exc

    def _hts(self, refs: list[str]) -> list[tuple[str, str]]:
        """(prefix digits, where it comes from) for hts_in refs."""
        out: list[tuple[str, str]] = []
        for r in refs:
            if r.startswith("list:"):
                nl = self.pack.lists[r[5:]]
                out += [(m.replace(".", ""), nl.description or r[5:]) for m in nl.members if m not in nl.exclude]
            else:
                out.append((r.replace(".", ""), "rule"))
        return out

    # one compiler per condition key, tried in this order (a validated condition has exactly one key)
    _KEYS = ("all", "any", "not_", "destination_in", "exporter_in", "origin_in", "eccn_in", "eccn_unclassified",
             "description_has", "end_use_has", "param", "party_country_in", "party_name_in", "party_hit", "policy",
             "hts_in", "category_in", "license_exception_in", "fact_missing")

    def _compile(self, c: Cond) -> tuple[Fn, bool]:
        """The condition as a function of (shipment, item) -> (True/False/None, evidence, missing facts),
        and whether it reads an item (item-scoped)."""
        for key in self._KEYS:
            value = getattr(c, key)
            if value is not None:
                compiled: tuple[Fn, bool] = getattr(self, f"_c_{key}")(value)
                return compiled
        raise AssertionError("condition validated with exactly one key")  # pragma: no cover

    def _c_all(self, v: list[Cond]) -> tuple[Fn, bool]:
        parts = [self._compile(x) for x in v]
        fns = [p[0] for p in parts]
        conj = v
        order = sorted(range(len(conj)), key=lambda k: _cost(conj[k]))
        return _all(fns, order), any(p[1] for p in parts)

    def _c_any(self, v: list[Cond]) -> tuple[Fn, bool]:
        parts = [self._compile(x) for x in v]
        return _any([p[0] for p in parts]), any(p[1] for p in parts)

    def _c_not_(self, v: Cond) -> tuple[Fn, bool]:
        inner, scoped = self._compile(v)
        return _not(inner), scoped

    def _c_destination_in(self, v: list[str]) -> tuple[Fn, bool]:
        get = self._country_set(v)
        per_ref = [(r, self._ref_label(r), self._country_set([r])) for r in v]

        def dest_fn(s: ShipCtx, i: ItemCtx | None) -> Res:
            hit = s.dest_codes & get(s.as_of)
            if hit:
                return True, [_ev(field="destination", value=s.dest.code, matched=sorted(hit),
                                  detail=_dest_detail(s, per_ref))], []
            return _F

        return dest_fn, False

    def _c_exporter_in(self, v: list[str]) -> tuple[Fn, bool]:
        get = self._country_set(v)

        def exp_fn(s: ShipCtx, i: ItemCtx | None) -> Res:
            hit = s.exporter_codes & get(s.as_of)
            if hit:
                return True, [_ev(field="exporter_country", value=sorted(s.exporter_codes),
                                       matched=sorted(hit))], []
            return _F

        return exp_fn, False

    def _c_origin_in(self, v: list[str]) -> tuple[Fn, bool]:
        get = self._country_set(v)

        def origin_fn(s: ShipCtx, i: ItemCtx | None) -> Res:
            assert i is not None
            if not i.origin_codes:
                return None, [], [f"items[{i.index}].origin"]
            hit = i.origin_codes & get(s.as_of)
            if hit:
                return True, [_ev(field=f"items[{i.index}].origin", value=i.item.origin,
                                       matched=sorted(hit))], []
            return _F

        return origin_fn, True

    def _c_eccn_in(self, v: list[str]) -> tuple[Fn, bool]:
        inc, exc = self._eccns(v)
        return _eccn_fn(inc, exc), True

    def _c_eccn_unclassified(self, v: bool) -> tuple[Fn, bool]:
        want = v

        def uncl_fn(s: ShipCtx, i: ItemCtx | None) -> Res:
            assert i is not None
            uncl = i.eccn is None or i.eccn == "EAR99"
            if uncl == want:
                return True, [_ev(field=f"items[{i.index}].eccn", value=i.item.eccn,
                                       detail="unclassified (no ECCN or EAR99)" if uncl else "classified")], []
            return _F

        return uncl_fn, True

    def _c_description_has(self, v: list[str]) -> tuple[Fn, bool]:
        pm = matcher(tuple(self._phrases(v)), self._not_within(v))

        def desc_fn(s: ShipCtx, i: ItemCtx | None) -> Res:
            assert i is not None
            hits = pm.positive(i.item.description)
            if hits:
                return True, [_ev(field=f"items[{i.index}].description", value=i.item.description,
                                       matched=sorted({h.phrase for h in hits}))], []
            return _F

        return desc_fn, True

    def _c_end_use_has(self, v: PhraseCond | list[str]) -> tuple[Fn, bool]:
        eu = v
        phrases = eu if isinstance(eu, list) else eu.phrases
        if_missing = "unknown" if isinstance(eu, list) else eu.if_missing  # fail closed by default
        pm2 = matcher(tuple(self._phrases(phrases)), self._not_within(phrases))

        def eu_fn(s: ShipCtx, i: ItemCtx | None) -> Res:
            text = s.shipment.end_use
            if not has_text(text):  # blank / whitespace- or zero-width-only: not stated
                return (None, [], ["end_use"]) if if_missing == "unknown" else _F
            hits = pm2.positive(text)
            if hits:
                return True, [_ev(field="end_use", value=text, matched=sorted({h.phrase for h in hits}))], []
            return _F

        return eu_fn, False

    def _c_param(self, v: ParamCond) -> tuple[Fn, bool]:
        return _param_fn(v), True

    def _c_party_country_in(self, v: PartyCountryCond) -> tuple[Fn, bool]:
        get = self._country_set(v.countries)
        roles = set(v.roles or [])

        pc_unknown = v.if_missing == "unknown"

        def pc_fn(s: ShipCtx, i: ItemCtx | None) -> Res:
            ev = []
            missing: list[str] = []
            for idx, (role, codes) in enumerate(s.party_codes):
                if roles and role not in roles:
                    continue
                if not codes:
                    missing.append(f"parties[{idx}].country")
                    continue
                hit = codes & get(s.as_of)
                if hit:
                    ev.append(_ev(field=f"parties[{idx}].country", value=sorted(codes), matched=sorted(hit)))
            if ev:
                return True, ev, []
            return (None, [], missing) if missing and pc_unknown else _F

        return pc_fn, False

    def _c_party_name_in(self, v: PartyNameCond) -> tuple[Fn, bool]:
        shared = self._names_lists.get(v.list)
        if shared is None:
            shared = self._names_lists[v.list] = _NamesList(self.pack.lists[v.list], v.list, self._names_union)
        return _party_name_fn(shared, v.min_score, set(v.roles or [])), False

    def _c_party_hit(self, v: PartyHitCond) -> tuple[Fn, bool]:
        ph = v
        sources = {x.upper() for x in ph.sources or []}
        wanted_fn = set(ph.footnotes or [])
        hit_roles = set(ph.roles or [])

        def hit_fn(s: ShipCtx, i: ItemCtx | None) -> Res:
            # a rule inherits the band of the hit it depends on: strong hits make it fire; possible
            # hits only make it undecided (review, "possible match", the fact is never asserted)
            ev = []
            possible = []
            missing: list[str] = []
            for h in s.party_hits:
                if sources and h.list_code.upper() not in sources:
                    continue
                if wanted_fn and not wanted_fn & set(h.footnotes):
                    continue
                if hit_roles and h.role not in hit_roles:
                    continue
                fn_txt = f", footnote(s) {', '.join(map(str, h.footnotes))}" if h.footnotes else ""
                if h.band == "strong":
                    ev.append(_ev(field=f"parties[{h.party_index}].name", value=h.name, matched=h.entry_name,
                                  score=h.score, detail=f"listed on {h.list_code}{fn_txt}"))
                else:
                    possible.append(_ev(field=f"parties[{h.party_index}].name", value=h.name,
                                        matched=h.entry_name, score=h.score,
                                        detail=f"possible match only for an entry on {h.list_code}{fn_txt}"))
                    confirm = ", ".join(h.confirm_with) or "address, country, identifiers"
                    missing.append(f"identity of parties[{h.party_index}] '{h.name}' (possible match for "
                                   f"'{h.entry_name}' on {h.list_code}, score {h.score:g}; confirm with {confirm})")
            return _decided(ev, possible, missing)

        return hit_fn, False

    def _c_policy(self, v: str) -> tuple[Fn, bool]:
        return _policy_fn(v), False

    def _c_hts_in(self, v: list[str]) -> tuple[Fn, bool]:
        return _hts_fn(self._hts(v)), True

    def _c_category_in(self, v: list[str]) -> tuple[Fn, bool]:
        return _item_claim_fn("category", set(v)), True

    def _c_license_exception_in(self, v: list[str]) -> tuple[Fn, bool]:
        return _item_claim_fn("license_exception", {x.strip().upper() for x in v}), True

    def _c_fact_missing(self, v: str) -> tuple[Fn, bool]:
        return _missing_fn(v), v in (
            "eccn", "origin", "us_content_percent", "direct_product_of", "hts_code")


def _dest_detail(s: ShipCtx, per_ref: list[tuple[str, str, Callable[[dt.date], frozenset[str]]]]) -> str:
    """Why the destination matched: the refs that hold it, named for what they are (a country the
    rule names, a Country Group, a list), never the rule's whole list as if the country were in it."""
    parts: list[str] = []
    own = {s.dest.code, s.dest.alpha2}
    for ref, label, get in per_ref:
        members = get(s.as_of)
        if not s.dest_codes & members:
            continue
        if ref.startswith(("group:", "list:")):
            parts.append(f"is in {label}")
        elif ref in own:
            parts.append(f"is named by the rule ({ref})")
        else:
            parts.append(f"falls under {ref} (territory rule)")
    return f"{s.dest.label} {' and '.join(parts) or 'matches the rule'} on {s.as_of}"


def _items_value(s: ShipCtx, key: str) -> str:
    """A per-item placeholder in a shipment-level message: the shipment's items, not '?'."""
    items = s.shipment.items
    vals: list[str] = []
    for it in items:
        if key in ("description", "item"):
            vals.append(it.description)
        elif key == "eccn":
            vals.append((normalize_eccn(it.eccn) or it.eccn) if it.eccn else "unclassified")
        elif key == "origin":
            vals.append(it.origin or "not given")
        elif key == "hts_code":
            vals.append(_hts_text(it.hts_code) if it.hts_code else "not given")
        else:  # param.x
            v = it.parameters.get(key[6:])
            vals.append("not given" if v is None else f"{v:g}")
    if len(vals) == 1:
        return vals[0]
    if key in ("description", "item"):
        return f"{len(vals)} items: " + "; ".join(vals)
    return ", ".join(vals)


# the shipment facts a shipment-level condition can read (ship_reads), in the order ship_key lists them
_SHIP_FACTS = ("dest", "exporter", "end_use", "party_codes", "parties", "party_hits", "policy")
# per condition key: the facts its compiled function reads besides the date's interval (read by every key);
# keys not here (item facts) make a shipment-level condition not memoised
_SHIP_READS: dict[str, frozenset[str]] = {
    "destination_in": frozenset({"dest"}),  # s.dest_codes against the set of the date's interval
    "exporter_in": frozenset({"exporter"}),
    "end_use_has": frozenset({"end_use"}),
    "party_country_in": frozenset({"party_codes"}),
    "party_name_in": frozenset({"parties"}),  # each party's role and name
    "party_hit": frozenset({"party_hits"}),
    "policy": frozenset({"policy"}),
}


def ship_reads(c: Cond) -> frozenset[str] | None:
    """The shipment facts condition ``c`` reads (see :data:`_SHIP_READS`), derived from the condition
    itself; None when it has a key this derivation does not know (then nothing is memoised)."""
    if c.all is not None or c.any is not None:
        out: frozenset[str] = frozenset()
        for x in (c.all if c.all is not None else c.any) or []:
            r = ship_reads(x)
            if r is None:
                return None
            out |= r
        return out
    if c.not_ is not None:
        return ship_reads(c.not_)
    if c.fact_missing is not None:
        # fact_missing of a shipment fact: end_use reads the end use; parties / end_user the parties' roles
        return {"end_use": frozenset({"end_use"}), "parties": frozenset({"parties"}),
                "end_user": frozenset({"parties"})}.get(c.fact_missing)
    for key, reads in _SHIP_READS.items():
        if getattr(c, key) is not None:
            return reads
    return None


def _required_destinations(c: Cond) -> list[str] | None:
    """Destination refs the condition cannot be true without, if its top level says so."""
    if c.destination_in is not None:
        return c.destination_in
    if c.all is not None:
        for sub in c.all:
            if sub.destination_in is not None:
                return sub.destination_in
    return None




# Rough cost of evaluating a condition: `all` tries cheap, selective conjuncts first.
_COST = {"eccn_unclassified": 0, "eccn_in": 1, "fact_missing": 1, "param": 2, "origin_in": 2,
         "destination_in": 3, "exporter_in": 3, "description_has": 4, "end_use_has": 4,
         "party_country_in": 5, "party_hit": 5, "all": 6, "any": 6, "not_": 6, "party_name_in": 8}


def _cost(c: Cond) -> int:
    return next((v for k, v in _COST.items() if getattr(c, k) is not None), 6)


def _all(fns: list[Fn], order: list[int] | None = None) -> Fn:
    """Three-valued AND. Conjuncts run cheapest first (any False ends it); evidence and missing
    facts are reported in the rule's own order, so the result does not depend on the order run."""
    idx = order or list(range(len(fns)))
    ordered = [(k, fns[k]) for k in idx]

    def f(s: ShipCtx, i: ItemCtx | None) -> Res:
        results: list[Res] = [_F] * len(fns)
        for k, fn in ordered:
            r = fn(s, i)
            if r[0] is False:
                return _F
            results[k] = r
        ev: list[Ev] = []
        missing: list[str] = []
        unknown = False
        for st, e, m in results:
            if st is None:
                unknown = True
                missing += m
            ev += e
        return (None if unknown else True), ev, missing

    return f


def _any(fns: list[Fn]) -> Fn:
    def f(s: ShipCtx, i: ItemCtx | None) -> Res:
        missing: list[str] = []
        unknown = False
        for fn in fns:
            st, e, m = fn(s, i)
            if st is True:
                return True, e, []
            if st is None:
                unknown = True
                missing += m
        return (None, [], missing) if unknown else _F

    return f


def _not(fn: Fn) -> Fn:
    def f(s: ShipCtx, i: ItemCtx | None) -> Res:
        st, e, m = fn(s, i)
        if st is None:
            return None, [], m
        return (not st), [], []

    return f


def _eccn_fn(inc: list[str], exc: list[str]) -> Fn:
    def f(s: ShipCtx, i: ItemCtx | None) -> Res:
        assert i is not None
        e = i.eccn
        if e is None:
            return _F
        if e == "EAR99":
            return _F
        if any(eccn_matches(e, x) for x in exc):
            return _F
        unknown_for: list[str] = []
        for pat in inc:
            r = eccn_matches(e, pat)
            if r:
                return True, [_ev(field=f"items[{i.index}].eccn", value=e, matched=pat,
                                       detail=f"{e} falls under {pat}")], []
            if r is None:
                unknown_for.append(pat)
        if unknown_for:
            return None, [], [f"items[{i.index}].eccn paragraph ({e} given; rule covers {', '.join(unknown_for)})"]
        return _F

    return f


_OPS: list[tuple[str, Callable[[float, float], bool], str]] = [
    ("gt", lambda v, t: v > t, ">"),
    ("gte", lambda v, t: v >= t, "≥"),
    ("lt", lambda v, t: v < t, "<"),
    ("lte", lambda v, t: v <= t, "≤"),
    ("eq", lambda v, t: v == t, "="),
]


def _param_fn(pc: Any) -> Fn:
    name = pc.name
    checks = [(op, t, sym) for key, op, sym in _OPS if (t := getattr(pc, key)) is not None]
    unknown = pc.if_missing == "unknown"
    text = " and ".join(f"{name} {sym} {t:g}" for _, t, sym in checks)

    def f(s: ShipCtx, i: ItemCtx | None) -> Res:
        assert i is not None
        v = i.item.parameters.get(name)
        if v is None:
            return (None, [], [f"items[{i.index}].parameters.{name}"]) if unknown else _F
        if all(op(v, t) for op, t, _ in checks):
            return True, [_ev(field=f"items[{i.index}].parameters.{name}", value=v, matched=text,
                                   detail=f"{name} = {v:g} meets {text}")], []
        return _F

    return f


def _policy_fn(want: str) -> Fn:
    def f(s: ShipCtx, i: ItemCtx | None) -> Res:
        if _policy.current() == want:
            return True, [_ev(field="policy", value=want, detail=f"--policy {want}")], []
        return _F

    return f


def _hts_fn(prefixes: list[tuple[str, str]]) -> Fn:
    """The item's HTS code starts with a listed prefix; a missing code is unknown (fail closed)."""
    by_len: dict[int, dict[str, str]] = {}
    for p, src in prefixes:
        by_len.setdefault(len(p), {}).setdefault(p, src)
    lengths = sorted(by_len)

    def f(s: ShipCtx, i: ItemCtx | None) -> Res:
        assert i is not None
        code = i.item.hts_code
        if not code:
            return None, [], [f"items[{i.index}].hts_code"]
        for n in lengths:
            if n <= len(code) and code[:n] in by_len[n]:
                p = code[:n]
                return True, [_ev(field=f"items[{i.index}].hts_code", value=code, matched=_hts_text(p),
                                  detail=f"HTS {_hts_text(code)} is under {_hts_text(p)} ({by_len[n][p]})")], []
        return False, [_ev(field=f"items[{i.index}].hts_code", value=code,
                           detail=f"HTS {_hts_text(code)} is not listed")], []

    return f


def _item_claim_fn(attr: str, wanted: set[str]) -> Fn:
    """The item states one of ``wanted`` for ``attr`` (category, licence exception claimed). Not stated is
    not met: these are the shipper's claims an authorisation rests on, never assumed."""

    def f(s: ShipCtx, i: ItemCtx | None) -> Res:
        assert i is not None
        v = getattr(i.item, attr)
        norm = v.strip().upper() if attr == "license_exception" and isinstance(v, str) else v
        if norm is not None and norm in wanted:
            return True, [_ev(field=f"items[{i.index}].{attr}", value=v, matched=norm)], []
        return _F

    return f


def _hts_text(digits: str) -> str:
    """8471300100 -> 8471.30.0100 (as the schedule prints it)."""
    parts = [digits[:4], digits[4:6], digits[6:]]
    return ".".join(p for p in parts if p)


def _missing_fn(fact: str) -> Fn:
    def f(s: ShipCtx, i: ItemCtx | None) -> Res:
        sh = s.shipment
        if fact in ("end_use", "parties", "end_user"):
            missing = {
                "end_use": not has_text(sh.end_use),
                "parties": not sh.parties,
                "end_user": not any(p.role.value == "end_user" for p in sh.parties),
            }[fact]
            fld = fact
        else:
            assert i is not None
            missing = getattr(i.item, fact) is None  # [] means "stated: none"
            fld = f"items[{i.index}].{fact}"
        if missing:
            return True, [_ev(field=fld, value=None, detail=f"{fld} not given")], []
        return _F

    return f


class _NamesList:
    """A pack's names list as the party matcher sees it, shared by every ``party_name_in`` condition of the
    pack that names it: one matcher (built on first use: most runs never screen a party against it, and
    its query cache serves every rule) and one memo of the best hit per (party name, min_score), kept
    across shipments (a repeat customer is looked up once per list, not once per rule and shipment)."""

    MEMO_SIZE = 50_000  # names kept (cleared when full; only speed depends on it)
    # new names looked up after which the matcher's own per-query caches are emptied: this memo keeps every
    # answer, so those caches only serve the lookups of the name being answered (a names list is a few
    # dozen names: re-expanding a word is cheap), and would otherwise grow by ~1 KB per distinct party name
    # per list over a long batch (issue 14: memory). Only speed and memory depend on it.
    MATCHER_CACHE_NAMES = 2_000

    def __init__(self, nl: NamedList, list_name: str, union: _NamesUnion | None = None) -> None:
        self.names = [n for n in nl.members if n not in nl.exclude]
        self.list_name = list_name
        self.union = union if union is not None else _NamesUnion()
        self.union.add(self.names)
        self._matcher: Any = None
        # per party name: _NO_MATCH when the matcher's cheap necessary test says it cannot match (most names:
        # one entry per name and list, ~0.1 KB), else {min_score: best hit or None}
        self.memo: dict[str, Any] = {}
        self._new_names = 0  # names looked up in the matcher since its caches were last emptied

    def matcher(self) -> Any:
        if self._matcher is None:
            from ecscreen.parties.matching import ListEntry, Matcher

            self._matcher = Matcher([ListEntry(id=f"{self.list_name}-{k}", source=f"names list {self.list_name}",
                                               source_code="custom", name=n) for k, n in enumerate(self.names)],
                                    cache_key=f"names-list:{self.list_name}")
        return self._matcher

    def best_of(self, name: str, min_score: float) -> Any:
        memo = self.memo
        per = memo.get(name)
        if per is _NO_MATCH:
            return None
        if per is not None and min_score in per:
            return per[min_score]
        if per is None:
            if not self.union.may_match(name):  # no names list of the pack can match it (most names)
                return None
            if len(memo) > self.MEMO_SIZE:
                memo.clear()
            may = self.matcher().may_match(name)  # the matcher's cheap necessary test, once per name
            self._new_names += 1
            if self._new_names >= self.MATCHER_CACHE_NAMES:
                self._new_names = 0
                self._matcher.clear_caches()  # results never depend on them
            if not may:
                memo[name] = _NO_MATCH
                return None
            per = memo[name] = {}
        found = self.matcher().search(name, threshold=min_score, limit=1)
        got = per[min_score] = found[0] if found else None
        return got


_NO_MATCH: Any = object()  # a name the names list's matcher cannot match at any score
_UNSET: Any = object()  # a lazily computed value not computed yet


class _NamesUnion:
    """The matcher's cheap necessary test (``may_match``) over the union of a pack's names lists, once per party
    name for all of them: a name it rejects is rejected by every list's own ``may_match``, so those are skipped
    (most names relate to no word of any list; issue 14: each list's test had cost a prepared query per name).

    Why it is exact (``parties.matching``): a union index's vocabulary is the union of the lists' vocabularies
    (each alias's words), and ``may_match`` is True when the name, or a spelling of it, has a word related to a
    vocabulary word (equal, one edit, same skeleton, Jaro-Winkler, nickname: relations of the word pair alone)
    or is the acronym of an indexed name. Re-joined or split words (``_rejoin``) are vocabulary words, so a
    name the union rejects has its words unchanged and related to no union word, hence to no word of any list;
    its spellings are made from those same words. ``tests/test_batch_fastpath.py`` checks it on names that
    each list does and does not match."""

    MEMO_SIZE = 100_000  # names kept (cleared when full; only speed depends on it)

    def __init__(self) -> None:
        self.names: list[str] = []
        self._matcher: Any = None
        self.memo: dict[str, bool] = {}
        self._new_names = 0

    def add(self, names: list[str]) -> None:
        self.names.extend(names)
        self._matcher = None
        self.memo.clear()

    def matcher(self) -> Any:
        m = self._matcher
        if m is None:
            from ecscreen.parties.matching import ListEntry, Matcher

            uniq = list(dict.fromkeys(self.names))
            m = self._matcher = Matcher([ListEntry(id=f"names-union-{k}", source="names lists", source_code="custom",
                                                   name=n) for k, n in enumerate(uniq)],
                                        cache_key="names-union")  # the digest covers the names
        return m

    def may_match(self, name: str) -> bool:
        got = self.memo.get(name)
        if got is not None:
            return got
        m = self.matcher()
        self._new_names += 1
        if self._new_names >= _NamesList.MATCHER_CACHE_NAMES:
            self._new_names = 0
            m.clear_caches()  # results never depend on them
        if len(self.memo) >= self.MEMO_SIZE:
            self.memo.clear()
        got = self.memo[name] = bool(m.may_match(name))
        return got


def resident_names_lists(engine: Engine) -> int:
    """Load the matchers of every names list of ``engine``'s packs now, with plain-dict tables
    (``parties.matching.plain_tables``), and return how many tables were replaced: for a long-running process
    (``ecscreen serve``). Loaded from the index cache on first use (``check``), their tables decode on
    demand, and ``may_match`` / ``search`` of a first-seen party name probe them hundreds of times in Python;
    plain dicts answer the same for ~25 % less CPU per new name (``bench_serve_split``, under load:
    engine.screen 0.52 -> 0.45 ms of a two-party request), for ~30 ms once and ~6 MB per process (the
    background word frequencies the indexes share: one copy)."""
    shared: dict[int, dict[Any, Any]] = {}
    from ecscreen.parties.matching import plain_tables

    n = 0
    for cp in engine.compiled:
        if cp._names_lists:
            holders: list[_NamesUnion | _NamesList] = [cp._names_union, *cp._names_lists.values()]
            for h in holders:
                n += plain_tables(h.matcher(), shared)
    return n


def _party_name_fn(names: _NamesList, min_score: float, roles: set[str]) -> Fn:
    """Party names against a pack's own names list, with the party matcher's calibrated scorer: a strong
    hit at ``min_score`` makes the condition true; a possible one leaves it undecided (review)."""
    list_name = names.list_name

    def best_of(name: str) -> Any:
        return names.best_of(name, min_score)

    def f(s: ShipCtx, i: ItemCtx | None) -> Res:
        ev = []
        possible = []
        missing = []
        for idx, p in enumerate(s.shipment.parties):
            if roles and p.role.value not in roles:
                continue
            best = best_of(p.name)
            if best is None:
                continue
            e = _ev(field=f"parties[{idx}].name", value=p.name, matched=best.entry.name, score=best.score,
                    detail=f"{best.band} match on list {list_name!r} (score {best.score:g} >= {min_score:g}): "
                           f"{best.explanation}")
            # a names list is curated by the pack's author: an exact match of a member is firm even when
            # the name is one short word ('Sugon', 'SMIC'); anything else inherits the hit's band
            exact_member = best.name_score >= 100 and set((best.firm_block or "").split("; ")) <= {
                "", "the match rests on one word", "very short name"}
            if best.band == "strong" or exact_member:
                ev.append(e)
            else:
                possible.append(e)
                missing.append(f"identity of parties[{idx}] '{p.name}' (possible match for '{best.entry.name}', "
                               f"score {best.score:g}; confirm with address, country, identifiers)")
        return _decided(ev, possible, missing)

    return f


# a pack's plan for a shipment as _rule_findings reads it: (pack, plan, item gates applied, the plan's
# item-scoped entries or None, the pack's jurisdiction)
_PackPlan = tuple["CompiledPack", list[tuple[Rule, Fn, bool, tuple[int, ...]]], bool,
                  "list[tuple[Rule, Fn, bool, tuple[int, ...]]] | None", str]


def _pack_plans(plans: list[tuple[CompiledPack, list[tuple[Rule, Fn, bool, tuple[int, ...]]], bool]]
                ) -> list[_PackPlan]:
    """The packs' plans with what _rule_findings reads of each (see Engine._plans); empty plans left out."""
    return [(cp, plan, gated, cp.item_entries(plan), cp.pack.pack.jurisdiction) for cp, plan, gated in plans
            if plan]


def _decided(firm: list[Ev], possible: list[Ev], missing: list[str]) -> Res:
    """A party condition's result: true on a firm hit; unknown (review, naming what would confirm it) on
    possible hits only; false otherwise."""
    if firm:
        return True, firm, []
    if possible:
        return None, possible, missing
    return _F


# --------------------------------------------------------------------------- messages

_PLACEHOLDER = re.compile(r"\{([a-z_]+(?:\.[A-Za-z0-9_]+)?)\}")


# shipment-level placeholders of a rule message
_SHIP_VALUES: dict[str, Callable[[ShipCtx, list[Ev]], str]] = {
    "destination": lambda s, ev: s.dest.code,
    "destination_name": lambda s, ev: s.dest.name,
    "as_of": lambda s, ev: s.as_of.isoformat(),
    "end_use": lambda s, ev: s.shipment.end_use or "not stated",
    "exporter": lambda s, ev: ", ".join(sorted(s.exporter_codes)) or "US",
    "parties": lambda s, ev: ", ".join(p.name for p in s.shipment.parties) or "none named",
    "matched": lambda s, ev: "; ".join(_ev_text(e) for e in ev) or "-",
}
# item placeholders (for a shipment-level rule: the values of every item, see _items_value)
_ITEM_VALUES: dict[str, Callable[[ItemCtx], str]] = {
    "description": lambda i: i.item.description,
    "item": lambda i: i.item.description,
    "eccn": lambda i: i.eccn or "unclassified",
    "origin": lambda i: i.item.origin or "not given",
    "hts_code": lambda i: _hts_text(i.item.hts_code) if i.item.hts_code else "not given",
}


def _param_value(i: ItemCtx, key: str) -> str:
    v = i.item.parameters.get(key[6:])
    return "not given" if v is None else f"{v:g}"


def render_message(template: str, s: ShipCtx, i: ItemCtx | None, ev: list[Ev]) -> str:
    """The rule's message with its placeholders filled from the shipment, the item and the evidence
    (an unknown placeholder stays as written, so tests can find it)."""

    def val(key: str) -> str:
        if key in _SHIP_VALUES:
            return _SHIP_VALUES[key](s, ev)
        if key.startswith("param."):
            return _items_value(s, key) if i is None else _param_value(i, key)
        if key in _ITEM_VALUES:
            return _items_value(s, key) if i is None else _ITEM_VALUES[key](i)
        return "{" + key + "}"

    return " ".join(_PLACEHOLDER.sub(lambda m: val(m.group(1)), template).split())


def _ev_text(e: Ev) -> str:
    if e.detail:
        return e.detail
    return f"{e.field} = {e.value!r} matched {e.matched!r}"


# --------------------------------------------------------------------------- engine


@dataclass
class Engine:
    """The compiled packs and what screening with them needs (lists, matcher, policy, memos). A docstring of
    its own: without one, dataclass() renders the signature of its ~30-field ``__init__`` as ``__doc__`` at
    import (``inspect.signature``, ~1 ms CPU of every check)."""

    registry: Registry
    compiled: list[CompiledPack] = field(default_factory=list)
    use_lists: bool = True
    allowlist: Any = None  # ecscreen.parties.matching.AllowList of cleared (party, list entry) pairs

    has_jurisdiction: bool = False
    has_chart: bool = False
    # callable(parties, *, as_of, **kw) -> PartyScreening; None = ecscreen.parties.screening.screen_parties.
    # Batch runs install a memoising screener here.
    party_screener: Any = None
    # the restricted-party lists screened (ecscreen.parties.store.ScreeningList); None = not loaded yet: the
    # embedded/imported lists plus every ``kind: party_list`` pack of the registry, loaded on first use
    lists: list[Any] | None = None
    # earliest date any rules pack states the law for (dates before it are outside what the packs cover)
    covered_from: dt.date | None = None
    # which reading decides where the CFR text and BIS enforcement differ (ecscreen.domain.policy)
    policy: str = "enforced"
    # memos of the item gates and chart determinations (exact: the same results with memo=False,
    # which the equivalence tests compare against)
    memo: bool = True
    # lists older than this many days get a staleness warning (None: the party_lists pack's limit)
    max_age_days: int | None = None
    # the party index over ``lists``, loaded by the ScreeningContext (None: looked up when first needed)
    matcher: Any = None
    # the caller's date (the CLI / API read the clock, never the engine): used for a shipment that states
    # no date when the call gives neither as_of nor today
    today: dt.date | None = None
    _chart_memo: dict[tuple[Any, ...], Any] = field(default_factory=dict, repr=False, compare=False)
    _chart_strs: _chartmemo.Interner = field(default_factory=_chartmemo.Interner, repr=False, compare=False)
    chart_runs: int = field(default=0, repr=False, compare=False)  # determinations made (memo misses)
    chart_hits: int = field(default=0, repr=False, compare=False)
    _chart_bounds: list[dt.date] | None = field(default=None, repr=False, compare=False)
    _plan_memo: dict[tuple[Any, ...], Any] = field(default_factory=dict, repr=False, compare=False)
    _plan_bounds: list[dt.date] | None = field(default=None, repr=False, compare=False)
    # one value of _plan_memo per distinct content (the ids of its packs' plan lists): see _plans
    _plan_forms: dict[tuple[int, ...], Any] = field(default_factory=dict, repr=False, compare=False)
    _item_profiles: dict[tuple[Any, ...], int] = field(default_factory=dict, repr=False, compare=False)
    _profile_ids: dict[tuple[frozenset[int], ...], int] = field(default_factory=dict, repr=False, compare=False)
    _profile_sets: list[tuple[frozenset[int], ...]] = field(default_factory=list, repr=False, compare=False)
    _codes_memo: dict[tuple[str, str, int], frozenset[str]] = field(default_factory=dict, repr=False, compare=False)
    _territory_iv: Intervals | None = field(default=None, repr=False, compare=False)  # see _territory_ix
    _chart_from_v: Any = field(default=_UNSET, repr=False, compare=False)  # see _chart_from
    # (eccn, for_eccn, origin, territory interval) -> (normalised ECCN, origin codes) of items without input errors
    _party_inputs: dict[tuple[Any, ...], tuple[str, frozenset[str]]] = field(default_factory=dict, repr=False,
                                                                            compare=False)  # see _party_codes
    _item_inputs: dict[tuple[Any, ...], tuple[str | None, frozenset[str]]] = field(default_factory=dict, repr=False,
                                                                                 compare=False)

    def _chart_from(self) -> dt.date | None:
        """First date the Commerce Country Chart / CCL packs state (None: no chart loaded); read once (the
        registry, and so its chart index, is fixed for the engine's life)."""
        got = self._chart_from_v
        if got is _UNSET:
            got = None
            if self.has_chart:
                chart_mod = _chart_mod()
                got = chart_mod.chart_index(self.registry).effective_from if chart_mod is not None else None
            self._chart_from_v = got
        return got  # type: ignore[no-any-return]

    def _territory_ix(self, on: dt.date) -> int:
        """The index of ``on``'s interval between the registry's territory-mapping dates (computed once: the
        registry is fixed for the engine's life). :func:`_codes` reads the day through those mappings alone,
        so two days of one interval give every country the same codes (``ecscreen.engine.intervals``)."""
        iv = self._territory_iv
        if iv is None:
            iv = self._territory_iv = Intervals(territory_dates(self.registry))
        return iv.index(on)

    def _codes(self, c: Country, on: dt.date) -> frozenset[str]:
        """:func:`_codes` (a country's codes with its territory parents on a date), memoised per (code,
        alpha-2, the date's territory interval, see :meth:`_territory_ix`): orders of 90 days share entries."""
        key = (c.code, c.alpha2, self._territory_ix(on))
        got = self._codes_memo.get(key)
        if got is None:
            if len(self._codes_memo) >= CODES_MEMO_SIZE:
                self._codes_memo.clear()
            got = self._codes_memo[key] = _codes(c, self.registry, on)
        return got

    def warm_up(self) -> int:
        """Load now what screening otherwise loads on first use in each process: the matchers of every pack's
        names lists and of their union (from the index cache). A batch run calls it before forking its
        ``--jobs`` workers, so they share one copy instead of each loading its own after the fork (issue 14:
        memory, and a cheaper warm-up per process). Returns how many matchers were loaded; results never
        depend on it."""
        n = 0
        for cp in self.compiled:
            if not cp._names_lists:
                continue
            cp._names_union.matcher()
            for nl in cp._names_lists.values():
                nl.matcher()
            n += 1 + len(cp._names_lists)
        return n

    @classmethod
    def build(cls, registry: Registry, *, use_lists: bool = True, allowlist: Any = None,
              lists: list[Any] | None = None, policy: str = "enforced", max_age_days: int | None = None,
              today: dt.date | None = None) -> Engine:
        _policy.set_current(policy)  # validates the name
        starts = [r.effective_from for p in registry.rule_packs for r in p.rules]
        return cls(registry=registry, compiled=[CompiledPack(p, registry) for p in registry.rule_packs],
                   use_lists=use_lists, allowlist=allowlist, lists=lists,
                   has_jurisdiction=bool(registry.of_kind("jurisdiction")),
                   has_chart=bool(registry.of_kind("country_chart")),
                   covered_from=min(starts) if starts else None, policy=policy, max_age_days=max_age_days,
                   today=today)

    def _date(self, *dates: dt.date | None) -> dt.date:
        """The first date given, else the engine's ``today``; no clock is read here."""
        for d in (*dates, self.today):
            if d is not None:
                return d
        raise ValueError("no date to screen at: the shipment states none and the caller gave neither "
                         "as_of nor today (the CLI and the API pass today's date)")

    @property
    def party_lists(self) -> list[Any]:
        """The lists parties are screened against: the active lists (embedded CSL or an imported CSL, other
        imported lists) and the own-format ``kind: party_list`` packs of this registry (shipped or given
        with ``--rules``); empty when lists are off."""
        if not self.use_lists:
            return []
        if self.lists is None:
            from ecscreen.parties.store import active_lists

            self.lists = active_lists(rules_roots=[]) + pack_party_lists(self.registry)
        return self.lists

    # ---- one shipment
    def screen_one(self, sh: Shipment, *, as_of: dt.date | None = None, label: str | None = None,
                   today: dt.date | None = None) -> ShipmentResult:
        """Screen one shipment; when the end user (or ultimate consignee) is in another country than
        ``destination``, the licence question is also screened for that country of ultimate destination
        (15 CFR 772.1) and the result says which country decided."""
        res = self._screen_one(sh, as_of=as_of, label=label, today=today)
        ultimate = _ultimate_destinations(sh, res)
        if not ultimate:
            return res
        return _merge_ultimate(res, [(code, why, self._screen_one(
            sh.model_copy(update={"destination": code, "destination_region": None}), as_of=as_of, label=label,
            today=today)) for code, why in ultimate])

    def _screen_one(self, sh: Shipment, *, as_of: dt.date | None = None, label: str | None = None,
                    today: dt.date | None = None) -> ShipmentResult:
        """The steps in order: input checks, parties, jurisdiction per item, the rule packs, dates outside
        the packs, the Commerce Country Chart, party-list scope, coverage (licences, exceptions)."""
        on = self._date(as_of, sh.date, today)
        _policy.set_current(self.policy)
        sid = sh.id or label or "shipment"
        dest, exporter, items, party_codes, errors = self._inputs(sh, on)
        if errors or dest is None or exporter is None:
            return ShipmentResult(id=sid, decision="error", as_of=on, destination=sh.destination, errors=errors)
        findings, hits, warnings, screened = self._parties(sh, on)
        ctx = ShipCtx(shipment=sh, dest=dest, dest_codes=self._codes(dest, on),
                      exporter_codes=self._codes(exporter, on), as_of=on,
                      party_codes=party_codes, party_hits=hits)
        status, jurisdictions, jur_findings = self._jurisdictions(sh, items, dest, exporter, hits, on)
        findings += jur_findings
        findings += self._rule_findings(ctx, items, status, on)
        if self.covered_from is not None and on < self.covered_from:
            # dates outside the range the packs cover: review naming the range (fail closed)
            findings.append(_date_finding(
                "DATE-BEFORE-PACKS", None, on,
                f"Shipment date {on} is before {self.covered_from}, the earliest date any loaded rule pack states "
                f"the law for (the packs cover {self.covered_from} onwards): nothing can be screened for that "
                "date. Check the date (or screen with --as-of).", self.covered_from))
        findings += self._chart_findings(items, status, dest, on, warnings, errors)
        findings = self._coverage(findings, sh, items, status, dest, on)
        if errors:
            return ShipmentResult(id=sid, decision="error", as_of=on, destination=dest.code,
                                  destination_name=dest.name, errors=errors, findings=findings, warnings=warnings,
                                  jurisdiction=jurisdictions)
        findings.sort(key=lambda f: (-f.outcome.rank, f.item_index if f.item_index is not None else -1, f.rule_id))
        decision = Outcome.worst([f.outcome for f in findings if f.covered_by is None])
        if _valid_result_parts(sid, dest, findings, warnings, jurisdictions, screened):
            # every part was validated where it was made: the result is built without validating again
            return built(ShipmentResult, {
                "id": sid, "decision": decision, "as_of": on, "destination": dest.code,
                "destination_name": dest.name, "findings": findings, "errors": [], "warnings": warnings,
                "jurisdiction": jurisdictions, "source": None, "party_screening": screened})
        return ShipmentResult(id=sid, decision=decision, as_of=on, destination=dest.code, destination_name=dest.name,
                              findings=findings, warnings=warnings, jurisdiction=jurisdictions,
                              party_screening=screened)

    def _inputs(self, sh: Shipment, on: dt.date) -> tuple[Country | None, Country | None, list[ItemCtx],
                                                           list[tuple[str, frozenset[str]]], list[InputError]]:
        """Destination (or its region), exporter country, items and party countries resolved; every fact
        that cannot be read is an input error naming its field (fail closed)."""
        errors: list[InputError] = []
        dest = resolve(sh.destination)
        if dest is None:
            errors.append(InputError(field="destination", message=unknown_message(sh.destination, "destination")))
        if sh.destination_region:
            region = resolve(sh.destination_region)
            if region is None or region.region is None:
                errors.append(InputError(field="destination_region",
                                         message=f"unknown region {sh.destination_region!r}"))
            elif dest is not None and region.alpha2 != dest.alpha2:
                errors.append(InputError(field="destination_region",
                                         message=f"region {sh.destination_region!r} ({region.label}) is in "
                                                 f"{region.alpha2}, not in the destination {dest.label}"))
            elif dest is not None:
                dest = region
        exporter = resolve(sh.exporter_country) if sh.exporter_country else resolve("US")
        if exporter is None:
            errors.append(InputError(field="exporter_country",
                                     message=unknown_message(sh.exporter_country or "", "country")))
        errors += check_texts(sh)
        party_codes = [self._party_codes(p, idx, on, errors) for idx, p in enumerate(sh.parties)]
        return dest, exporter, self._item_ctxs(sh, on, errors), party_codes, errors

    def _party_codes(self, p: Any, idx: int, on: dt.date, errors: list[InputError]) -> tuple[str, frozenset[str]]:
        """(role, codes of the party's country): memoised per (role, country as written, the date's territory
        interval: the codes read nothing else of the date, see :meth:`_codes`) when the country gave no input
        error (an error names the party's index: made fresh each time)."""
        key = (p.role, p.country, self._territory_ix(on))
        got = self._party_inputs.get(key) if self.memo else None
        if got is not None:
            return got
        n_err = len(errors)
        got = (p.role.value, self._country_codes(p.country, f"parties[{idx}].country", on, errors))
        if self.memo and len(errors) == n_err:
            if len(self._party_inputs) >= CODES_MEMO_SIZE:
                self._party_inputs.clear()
            self._party_inputs[key] = got
        return got

    def _country_codes(self, text: str | None, fld: str, on: dt.date, errors: list[InputError]) -> frozenset[str]:
        """Codes a country field stands for (with territory parents); unknown -> an input error."""
        if not text:
            return frozenset()
        c = resolve(text)
        if c is None:
            errors.append(InputError(field=fld, message=unknown_message(text, "country")))
            return frozenset()
        return self._codes(c, on)

    def _item_ctxs(self, sh: Shipment, on: dt.date, errors: list[InputError]) -> list[ItemCtx]:
        """The items with canonical parameters, normalised ECCN and origin codes (input errors to ``errors``)."""
        items: list[ItemCtx] = []
        for idx, it in enumerate(sh.items):
            if it.parameters:
                params, perrs = check_parameters(it.parameters, idx, self.registry.parameters)
                errors += perrs
                if params != it.parameters:  # canonical names / booleans as 1 / 0 for every later step
                    it = it.model_copy(update={"parameters": params})
            # the item's ECCN and origin codes are read from (ECCN, for_eccn, origin, the date's territory
            # interval: see _codes) alone: memoised when they gave no input error (an error names the item's
            # index: made fresh each time)
            ikey = (it.eccn, it.for_eccn, it.origin, self._territory_ix(on))
            got = self._item_inputs.get(ikey) if self.memo else None
            if got is None:
                n_err = len(errors)
                e, eerrs = _item_eccns(it, idx)
                errors += eerrs
                origin_codes = self._country_codes(it.origin, f"items[{idx}].origin", on, errors)
                if self.memo and len(errors) == n_err:
                    if len(self._item_inputs) >= CODES_MEMO_SIZE:
                        self._item_inputs.clear()
                    self._item_inputs[ikey] = (e, origin_codes)
            else:
                e, origin_codes = got
            items.append(ItemCtx(item=it, index=idx, eccn=e, origin_codes=origin_codes))
        return items

    def _parties(self, sh: Shipment, on: dt.date) -> tuple[list[Finding], list[PartyFactLite], list[str], list[Any]]:
        """(findings, hits as the conditions see them, warnings, per-party summaries) of party screening."""
        party_mod = _parties_mod()
        if party_mod is not None and sh.parties and self.use_lists:
            if self.party_screener is not None:  # a batch run's memo: it holds the lists and clearances
                ps = self.party_screener(sh.parties, as_of=on)
            else:
                ps = party_mod.screen_parties(sh.parties, as_of=on, lists=self.party_lists, allowlist=self.allowlist,
                                              max_age_days=self.max_age_days, matcher=self.matcher)
            return (list(ps.findings), _party_facts(ps, sh), list(getattr(ps, "warnings", []) or []),
                    list(getattr(ps, "summaries", []) or []))
        if sh.parties:
            # fail closed: parties that were not screened never leave the shipment `clear`
            return [_parties_not_screened(sh, "--no-lists" if not self.use_lists
                                          else "the party-screening module is not installed")], [], [], []
        return [], [], [], []

    def _jurisdictions(self, sh: Shipment, items: list[ItemCtx], dest: Country, exporter: Country,
                       hits: list[PartyFactLite], on: dt.date
                       ) -> tuple[dict[int, str], list[ItemJurisdiction], list[Finding]]:
        """Per item: subject to the EAR or not (or unknown), with the steps that decided it."""
        status: dict[int, str] = {}
        jurisdictions: list[ItemJurisdiction] = []
        findings: list[Finding] = []
        jur_mod = _jur_mod()
        # the firm hits as the jurisdiction steps read them: one list per shipment (each item gets a copy)
        facts = _to_jur_facts(jur_mod, hits) if jur_mod is not None and self.has_jurisdiction and hits else []
        for ic in items:
            if jur_mod is not None and self.has_jurisdiction:
                st, summary, steps, jfindings = jur_mod.assess_parts(ic.item, ic.index, sh, dest, list(facts),
                                                                    self.registry, on)
                status[ic.index] = st
                findings += jfindings
                # the values are a validated JurisdictionResult's (status a literal, steps Step models), or the
                # memoised steps one was made of
                jurisdictions.append(built(ItemJurisdiction, {"item_index": ic.index, "status": st,
                                                              "summary": summary, "steps": steps}))
            else:
                st = _fallback_status(ic, exporter)
                status[ic.index] = st
                jurisdictions.append(ItemJurisdiction(
                    item_index=ic.index, status=st,
                    summary="subject to the EAR: item in or of the United States (15 CFR 734.3(a))"
                    if st == "subject" else "foreign item abroad: no jurisdiction data loaded to decide"))
        return status, jurisdictions, findings

    def _rule_findings(self, ctx: ShipCtx, items: list[ItemCtx], status: dict[int, str],
                       on: dt.date) -> list[Finding]:
        """The rule packs' rules that fire (item-scoped rules per item, the others once)."""
        findings: list[Finding] = []
        sts = set(status.values())
        for cp, plan, gated, item_only, jur in self._plans(ctx.dest_codes, items, on):
            # shipment-level rules known False for these facts are skipped (exact: CompiledPack.ship_key);
            # item_only: the plan's item-scoped entries, None when it has no shipment-level rule
            skey = cp.ship_key(ctx) if self.memo and item_only is not None else None
            known_false = skey is not None and cp.ship_all_false(skey)
            all_false = skey is not None and not known_false  # every shipment-level rule evaluated was False
            for rule, fn, item_scoped, idxs in (item_only if known_false and item_only is not None else plan):
                gate = rule.subject_to_ear_only and jur == "US-EAR"
                if item_scoped:
                    # items whose own facts make the condition False are left out (exact: see CompiledPack)
                    for ic in ([items[k] for k in idxs] if gated else items):
                        st = status[ic.index]
                        if gate and st == "not_subject":
                            continue
                        f = self._fire(cp, rule, fn, ctx, ic, st if gate else "subject")
                        if f:
                            findings.append(_authorise(cp, rule, f, ctx, [ic]))
                    continue
                if gate and sts == {"not_subject"}:
                    all_false = False  # not evaluated: nothing is known of its state
                    continue
                eff = "subject" if (not gate or "subject" in sts) else "unknown"
                f = self._fire(cp, rule, fn, ctx, None, eff)
                if f:
                    all_false = False
                    findings.append(_authorise(cp, rule, f, ctx, [
                        ic for ic in items if not (gate and status[ic.index] == "not_subject")]))
            if all_false and skey is not None:
                # keyed as the facts read now (names the evaluation found no names list can match: None)
                cp.remember_ship_false(cp.ship_key(ctx) or skey)
        return findings

    def _plans(self, dest_codes: frozenset[str], items: list[ItemCtx], on: dt.date) -> list[_PackPlan]:
        """Per rule pack, its plan for this shipment (``CompiledPack.plan``: the candidate rules, each
        item-scoped one with the items its item gate lets through) and whether the pack's item gates
        were applied (else an item-scoped rule runs for every item). A plan depends only on the
        destination's codes, the date's interval between the packs' change dates, and each item's skip
        sets (a function of the item facts the gates read: normalised ECCN, description, parameters);
        the skip sets of every pack are memoised per item facts as one profile number, and the plans
        of every pack per (destination codes, interval, profiles). Exact; bounded memos.

        Each entry also carries the plan's item-scoped entries (``CompiledPack.item_entries``, None when the
        plan has no shipment-level rule) and the pack's jurisdiction, and a pack whose plan is empty is left
        out (no rule of it can fire: ``_rule_findings`` does nothing for it); per shipment that was a dozen
        packs' worth of look-ups (issue 14)."""
        if not self.memo:
            return _pack_plans([(cp, cp.plan(dest_codes, on, None), False) for cp in self.compiled])
        if self._plan_bounds is None:
            self._plan_bounds = sorted({d for cp in self.compiled for d in cp.bounds})
        key = (dest_codes, bisect_right(self._plan_bounds, on), tuple([self._profile(ic) for ic in items]))
        got = self._plan_memo.get(key)
        if got is None:
            # the skip sets of the items' profiles: the g-th gated pack's set is member g of a profile
            profs = [self._profile_sets[p] for p in key[2]]
            plans = []
            g = 0
            for cp in self.compiled:
                if cp.item_gates:
                    plans.append((cp, cp.plan(dest_codes, on, tuple(pr[g] for pr in profs)), True))
                    g += 1
                else:
                    plans.append((cp, cp.plan(dest_codes, on, None), False))
            got = _pack_plans(plans)
            if len(self._plan_memo) >= PLAN_MEMO_SIZE:
                self._plan_memo.clear()
                self._plan_forms.clear()
            # keys with the same plan in every pack share one list (the packs share their plan lists: see
            # CompiledPack.plan); the ids are of the lists the kept value holds (never reused while it lives)
            form = tuple([id(pp[1]) for pp in got])
            shared = self._plan_forms.get(form)
            if shared is not None and all(a[1] is b[1] for a, b in zip(shared, got, strict=True)):
                got = shared
            else:
                self._plan_forms[form] = got
            self._plan_memo[key] = got
        return got

    def _profile(self, ic: ItemCtx) -> int:
        """A number standing for the item's skip sets in every pack (equal numbers: equal skip sets)."""
        it = ic.item
        key = (ic.eccn, it.description, tuple(sorted(it.parameters.items())) if it.parameters else ())
        got = self._item_profiles.get(key)
        if got is None:
            prof = tuple(cp.skipped_for(ic) for cp in self.compiled if cp.item_gates)
            if prof not in self._profile_ids and len(self._profile_ids) >= PLAN_MEMO_SIZE:
                # numbers are reused after this: every memo keyed on them goes with it
                self._profile_ids.clear()
                self._profile_sets.clear()
                self._item_profiles.clear()
                self._plan_memo.clear()
                self._plan_forms.clear()
            got = self._profile_ids.get(prof)
            if got is None:
                got = self._profile_ids[prof] = len(self._profile_sets)
                self._profile_sets.append(prof)  # the skip sets of number ``got``
            if len(self._item_profiles) >= PLAN_MEMO_SIZE:
                self._item_profiles.clear()
            self._item_profiles[key] = got
        return got

    def _chart_findings(self, items: list[ItemCtx], status: dict[int, str], dest: Country, on: dt.date,
                        warnings: list[str], errors: list[InputError]) -> list[Finding]:
        """The Commerce Country Chart per item subject to the EAR (notes go to ``warnings``, errors to
        ``errors``)."""
        findings: list[Finding] = []
        chart_mod = _chart_mod()
        chart_from = self._chart_from()
        for ic in items:
            if status[ic.index] == "not_subject":
                continue
            if chart_from is not None and on < chart_from and ic.eccn and ic.eccn != "EAR99":
                findings.append(_date_finding(
                    "DATE-BEFORE-CHART", ic.index, on,
                    f"{ic.item.description} ({ic.eccn}): shipment date {on} is before {chart_from}, the date of "
                    f"the Commerce Country Chart and CCL packs (they cover {chart_from} onwards), so the licence "
                    "requirement by reason for control cannot be read for this ECCN on that date; only the dated "
                    f"rule packs were applied. Check the chart in force on {on}.", chart_from))
            if chart_mod is None or not ic.eccn or not self.has_chart:
                continue
            if dest.alpha2 == "US":
                note = _DOMESTIC_NOTE.format(eccn=ic.eccn, index=ic.index)
                if note not in warnings:
                    warnings.append(note)
                continue
            cr = self._chart(chart_mod, ic, dest, on)
            cf = list(cr.findings)
            if status[ic.index] == "unknown":
                cf = [_cap_review(f, "jurisdiction undetermined") for f in cf]
            findings += cf
            warnings += [n for n in getattr(cr, "notes", []) if n not in warnings]
            for err in getattr(cr, "errors", []) or []:
                errors.append(err if isinstance(err, InputError) else InputError(message=str(err)))
        return findings

    def _coverage(self, findings: list[Finding], sh: Shipment, items: list[ItemCtx], status: dict[int, str],
                  dest: Country, on: dt.date) -> list[Finding]:
        """Party-list requirements reach only the items they cover (ecscreen.engine.listscope); then
        licences held and licence exceptions cover what they cover (ecscreen.engine.licensing)."""
        if not findings and not any(it.licenses or it.license_exception for it in sh.items):
            # nothing to scope or cover, and no claimed exception that could add a finding (what the steps
            # below give then: listscope and licensing return the findings they are given)
            return findings
        scope_mod = _scope_mod()
        if scope_mod is not None:
            findings = scope_mod.scope_party_findings(findings, sh.items, [ic.eccn for ic in items], status, dest,
                                                      self.registry, on)
        lic_mod = _lic_mod()
        if lic_mod is not None:
            for ic in items:
                mine = [f for f in findings if f.item_index == ic.index]
                others = [f for f in findings if f.item_index != ic.index]
                findings = others + list(lic_mod.apply_coverage(mine, ic.item, ic.index, dest, self.registry, on))
            findings = list(lic_mod.apply_shipment_coverage(findings, sh.items, status, dest, self.registry, on))
            findings = _drop_used_claims(findings)
        return findings

    def _chart(self, chart_mod: Any, ic: ItemCtx, dest: Country, on: dt.date) -> Any:
        """``chart.determine`` for one item, memoised per the facts it reads: the item's ECCN as given,
        its index (in the findings), the destination (code and the names the messages use) and the
        date's interval between the registry's change dates (Country Group changes, territory rules,
        the chart's own date): within one interval every set the chart reads is the same (before the
        chart's date, the day itself: the note names it). The result
        is shared: the engine copies its lists, and later steps change findings only on copies."""
        if not self.memo:
            return chart_mod.determine(ic.item, ic.index, dest, self.registry, on)
        if self._chart_bounds is None:
            reg = self.registry
            # Intervals drops a missing chart date or groups snapshot
            self._chart_bounds = Intervals([*group_dates(reg), *territory_dates(reg), self._chart_from(),
                                            reg.groups_snapshot]).bounds
        eff = self._chart_from()
        # before the chart's date the result names the date itself: keyed on the day there
        when: Any = on if eff is None or on < eff else bisect_right(self._chart_bounds, on)
        # the item's parameters decide scopes of some entries (6A003.b.4.b RS 1 / RS 2, Note 3.a)
        params = tuple(sorted(ic.item.parameters.items())) if ic.item.parameters else ()
        # and the ECCN the item is for decides the scopes that point to other entries (items[].for_eccn);
        # the line index is not in the key: the entry is a template written for the line (engine.chartmemo)
        # (the destination's label is its name and code: not in the key, it would be made per line)
        key = (ic.item.eccn, ic.item.for_eccn, dest.code, dest.name, when, self.policy, params)
        memo = self._chart_memo
        got = memo.get(key)
        if got is not None:  # (not refreshed: the memo holds every distinct key of a long run, issue 14)
            self.chart_hits += 1
            return got.for_line(ic.index)
        if _chartmemo.SENTINEL_S in str(key):  # the placeholder's digits in the facts: not memoised
            return chart_mod.determine(ic.item, ic.index, dest, self.registry, on)
        self.chart_runs += 1
        res = chart_mod.determine(ic.item, _chartmemo.SENTINEL, dest, self.registry, on)
        share = self._chart_strs.share
        # only what screen_one reads is kept (the steps are also in the findings): a small entry
        got = _chartmemo.Template(share(res.findings), share(res.notes), share(res.errors))
        if len(memo) >= CHART_MEMO_SIZE:
            _drop_oldest_half(memo)
            if len(self._chart_strs) > 20 * CHART_MEMO_SIZE:
                self._chart_strs.clear()  # bounded too (the kept entries keep their strings)
        memo[key] = got
        return got.for_line(ic.index)
        return got

    def _fire(self, cp: CompiledPack, rule: Rule, fn: Fn, ctx: ShipCtx, ic: ItemCtx | None,
              status: str) -> Finding | None:
        st, ev, missing = fn(ctx, ic)
        if st is False:
            return None
        meta = cp.pack.pack
        cites = list(rule.citations) + [Citation(kind="seed", ref=s) for s in rule.seeds]
        msg = render_message(rule.message, ctx, ic, ev)
        notes = list(rule.notes)
        outcome = rule.outcome
        if st is None:
            outcome = Outcome.review
            uniq = list(dict.fromkeys(missing))
            msg = (f"Cannot decide '{rule.title}': missing fact(s): {', '.join(uniq)}. "
                   f"If the facts match, the rule says: {msg}")
            ev = ev + [_ev(field=m, value=None, detail="missing") for m in uniq]
        if status == "unknown" and outcome.rank > Outcome.review.rank:
            notes.append(f"would be {outcome.value} if the item is subject to the EAR; jurisdiction undetermined")
            outcome = Outcome.review
        return Finding(rule_id=rule.id, pack_id=meta.id, outcome=outcome, title=rule.title, message=msg,
                       item_index=ic.index if ic else None, jurisdiction=meta.jurisdiction,
                       evidence=[e.model() for e in ev],
                       citations=cites, effective_from=rule.effective_from, effective_to=rule.effective_to,
                       notes=notes)

    # ---- many shipments
    def screen(self, shipments: Iterable[tuple[str, Shipment | InputError]], *, as_of: dt.date | None = None,
               today: dt.date | None = None) -> Report:
        results = []
        for label, sh in shipments:
            if isinstance(sh, InputError):
                results.append(ShipmentResult(id=label, decision="error", errors=[sh], source=label))
            else:
                r = self.screen_one(sh, as_of=as_of, label=label, today=today)
                r.source = label
                results.append(r)
        ok = [r.decision for r in results if r.decision != "error"]
        # fail closed: a run with an unscreenable shipment is never reported as clear overall
        decision: Outcome | str = Outcome.worst([Outcome(d) for d in ok]) if len(ok) == len(results) else "error"
        lists: list[Any] = []
        warnings: list[str] = list(self.registry.notes)
        unscreened = sum(1 for r in results if any(f.rule_id == "PARTIES-NOT-SCREENED" for f in r.findings))
        if unscreened:
            warnings.append(f"parties not screened against restricted-party lists (--no-lists): {unscreened} "
                            "shipment(s) with parties are review, not clear")
        if self.use_lists:
            from ecscreen.parties.screening import list_status

            lists, list_warns = list_status(self.party_lists, self._date(as_of, today), self.max_age_days)
            warnings += list_warns
        return Report(tool_version=__version__, decision=decision, generated_for=as_of,  # type: ignore[arg-type]
                      results=results, packs=self.registry.infos, lists=lists, warnings=warnings)


def _valid_result_parts(sid: Any, dest: Country, findings: list[Any], warnings: list[Any], jurisdictions: list[Any],
                       screened: list[Any]) -> bool:
    """The parts of a result are what :class:`ShipmentResult` validation keeps unchanged."""
    return (type(sid) is str and type(dest.code) is str and (dest.name is None or type(dest.name) is str)
            and all(type(f) is Finding for f in findings) and all(type(w) is str for w in warnings)
            and all(type(j) is ItemJurisdiction for j in jurisdictions)
            and all(type(p) is PartyScreeningSummary for p in screened))


_DOMESTIC_NOTE = ("item {index}: {eccn} to the United States: the Commerce Country Chart governs exports and "
                  "reexports to foreign destinations (15 CFR 734.13, 738.4); a shipment to a destination in the "
                  "United States needs no licence by reason for control (end-user and end-use rules still apply)")


# --------------------------------------------------------------------------- country of ultimate destination


def _ultimate_destinations(sh: Shipment, res: ShipmentResult) -> list[tuple[str, str]]:
    """Countries of ultimate destination other than the stated destination: the end users' countries, or
    (no end user with a country) the consignees' (15 CFR 772.1 'ultimate consignee', 'end user')."""
    if res.decision == "error" or not res.destination:
        return []
    dest = resolve(res.destination)
    if dest is None:
        return []
    for roles in (("end_user",), ("consignee",)):
        found: dict[str, str] = {}
        stated = False
        for idx, p in enumerate(sh.parties):
            if p.role.value not in roles or not p.country:
                continue
            c = resolve(p.country)
            if c is None:
                continue  # an unknown country is an input problem reported by the party checks
            stated = True
            if c.alpha2 != dest.alpha2 and c.code != dest.code:
                found.setdefault(c.code, f"parties[{idx}] {p.role.value} '{p.name}' is in {c.label}")
        if stated:
            return sorted(found.items())
    return []


def _merge_ultimate(res: ShipmentResult, others: list[tuple[str, str, ShipmentResult]]) -> ShipmentResult:
    """One result from the stated destination's and the ultimate destinations' screenings: every finding
    of an ultimate destination that is not already reported is added, marked with the country it is for;
    the decision is the worst, and a warning says which country decided."""
    findings = list(res.findings)
    seen = {(f.rule_id, f.item_index, f.message) for f in findings}
    warnings = list(res.warnings)
    errors = list(res.errors)
    decided = [(f"{res.destination_name} ({res.destination})" if res.destination_name else "the stated destination",
                res.decision)]
    for code, why, r in others:
        label = f"{r.destination_name} ({r.destination})" if r.destination_name else code
        if r.decision == "error":
            errors += r.errors
            continue
        decided.append((label, r.decision))
        for f in r.findings:
            if (f.rule_id, f.item_index, f.message) in seen:
                continue
            seen.add((f.rule_id, f.item_index, f.message))
            findings.append(f.model_copy(update={
                "message": f"[country of ultimate destination {label}: {why}] {f.message}",
                "evidence": [*f.evidence, Evidence(field="ultimate_destination", value=code, detail=why)],
                "citations": [*f.citations, Citation(ref="15 CFR 772.1", note="country of ultimate destination")],
            }))
    order = [o for _, o in decided if o != "error"]
    worst = Outcome.worst([f.outcome for f in findings if f.covered_by is None]) if findings else Outcome.clear
    names = ", ".join(f"{n}: {o.value if isinstance(o, Outcome) else o}" for n, o in decided)
    by = [n for n, o in decided if o == worst] if order else []
    stated = decided[0][0]
    warnings.append(
        f"the end user (or ultimate consignee) is not in the stated destination {stated}: the licence question "
        f"was screened for the country of ultimate destination too ({'; '.join(w for _, w, _ in others)}); "
        f"results by country: {names}; decided by {', '.join(by) or stated} (15 CFR 772.1)")
    findings.sort(key=lambda f: (-f.outcome.rank, f.item_index if f.item_index is not None else -1, f.rule_id))
    if errors:
        return res.model_copy(update={"decision": "error", "errors": errors, "findings": findings,
                                      "warnings": warnings})
    return res.model_copy(update={"decision": worst, "findings": findings, "warnings": warnings})


def _authorise(cp: CompiledPack, rule: Rule, f: Finding, ctx: ShipCtx, items: list[ItemCtx]) -> Finding:
    """Apply the rule's general authorisations (OFAC general licences, EAR licence exceptions,
    exclusions written into the requirement) to its finding. An item is authorised by the first
    authorisation in force whose condition is True for it; the finding is covered when every item it
    concerns is authorised without conditions to confirm, and becomes ``review`` naming those conditions
    when every item is authorised but some only under them. Otherwise it stands, with a note naming the
    items that are authorised (a mixed shipment is decided by the items that are not)."""
    auths = cp.auths.get(id(rule))
    if not auths or not items or f.outcome == Outcome.clear:
        return f
    fits: list[tuple[ItemCtx, Authorisation, list[Ev]]] = []
    for ic in items:
        for auth, fn in auths:
            if not auth.in_force(ctx.as_of):
                continue
            st, ev, _ = fn(ctx, ic)
            if st is True:
                fits.append((ic, auth, ev))
                break
    if not fits:
        return f
    cites = list(f.citations) + [c for _, a, _ in fits for c in a.citations]
    cites = list({(c.kind, c.ref): c for c in cites}.values())
    notes = list(f.notes) + [n for _, a, _ in fits for n in a.notes if n not in f.notes]
    evidence = list(f.evidence) + [e.model() for _, _, ev in fits for e in ev]
    details = list(dict.fromkeys(render_message(a.detail, ctx, ic, ev) for ic, a, ev in fits))
    if len(fits) < len(items):
        done = {ic.index for ic, _, _ in fits}
        rest = ", ".join(f"items[{ic.index}] {ic.item.description}" for ic in items if ic.index not in done)
        notes.append("authorised: " + "; ".join(details) + f". Not authorised: {rest}")
        return f.model_copy(update={"notes": notes, "citations": cites})
    confirms = [(ic, a, ev) for ic, a, ev in fits if a.confirm]
    refs = ", ".join(dict.fromkeys(a.ref for _, a, _ in fits))
    if confirms:
        asks = list(dict.fromkeys(render_message(a.confirm or "", ctx, ic, ev) for ic, a, ev in confirms))
        outcome = Outcome.review if f.outcome.rank > Outcome.review.rank else f.outcome
        msg = (f"{f.message} Authorised only if the conditions of {refs} are met: " + "; ".join(asks)
               + ". Confirm them (otherwise the requirement above stands).")
        return f.model_copy(update={"outcome": outcome, "message": msg, "notes": notes, "citations": cites,
                                    "evidence": evidence})
    kinds = {a.kind for _, a, _ in fits}
    kind = kinds.pop() if len(kinds) == 1 else "general_license"
    cov = Coverage(kind=kind, ref=refs, detail="; ".join(details))  # type: ignore[arg-type]
    return f.model_copy(update={"covered_by": cov, "notes": notes, "citations": cites, "evidence": evidence})


def _drop_used_claims(findings: list[Finding]) -> list[Finding]:
    """A licence exception claimed for an unclassified item that a rule's authorisation used (e.g. AGR
    covering the Cuba embargo) is not also 'nothing in the chart for it to cover'."""
    used = {(e.field, str(e.matched)) for f in findings if f.covered_by is not None
            and f.covered_by.kind == "license_exception" for e in f.evidence if e.field.endswith(".license_exception")}
    if not used:
        return findings
    return [f for f in findings if not (
        f.outcome == Outcome.review and f.item_index is not None and f.rule_id.startswith(("CHART-EAR99-LE-", "CHART-ITEM-LE-"))
        and (f"items[{f.item_index}].license_exception", f.rule_id.rsplit("-LE-", 1)[1]) in used)]


def _parties_not_screened(sh: Shipment, why: str) -> Finding:
    names = ", ".join(repr(p.name) for p in sh.parties)
    return Finding(
        rule_id="PARTIES-NOT-SCREENED", pack_id="ecscreen", outcome=Outcome.review,
        title="Parties not screened against the restricted-party lists",
        message=f"Parties not screened ({why}): {len(sh.parties)} party(ies) ({names}) were not checked against "
                "the restricted-party lists (Entity List, SDN, MEU List, ...). Screen them before export.",
        evidence=[Evidence(field=f"parties[{i}].name", value=p.name, detail="not screened")
                  for i, p in enumerate(sh.parties)],
        citations=[Citation(ref="15 CFR 744.11", note="Entity List licence requirements"),
                   Citation(ref="15 CFR part 732, Supplement No. 3", note="know your customer guidance")])


def _date_finding(rule_id: str, item_index: int | None, on: dt.date, message: str, since: dt.date) -> Finding:
    return Finding(rule_id=rule_id, pack_id="ecscreen", outcome=Outcome.review, item_index=item_index,
                   title="Shipment date outside the range the packs cover", message=message,
                   evidence=[Evidence(field="date", value=on.isoformat(), detail=f"packs cover {since} onwards")],
                   citations=[Citation(ref="15 CFR part 738, Supplement No. 1",
                                       note="the Commerce Country Chart in force on the shipment date applies")],
                   effective_from=since)


def _cap_review(f: Finding, why: str) -> Finding:
    if f.outcome.rank > Outcome.review.rank:
        f = f.model_copy(update={"outcome": Outcome.review,
                                 "notes": f.notes + [f"would be {f.outcome.value}; {why}"]})
    return f


def _fallback_status(ic: ItemCtx, exporter: Country) -> str:
    """Without jurisdiction data: items in or of the US are subject (15 CFR 734.3(a)(1)-(2))."""
    if exporter.alpha2 == "US" or "US" in ic.origin_codes:
        return "subject"
    return "unknown"


def _party_facts(ps: Any, sh: Shipment) -> list[PartyFactLite]:
    out = []
    for pidx, hits in enumerate(getattr(ps, "hits", []) or []):
        for h in hits:
            if getattr(h, "cleared", None) is not None and getattr(h.cleared, "active", True):
                continue
            p = sh.parties[pidx]
            out.append(PartyFactLite(party_index=pidx, role=p.role.value, name=p.name, list_code=h.entry.source_code,
                                     entry_name=h.entry.name, footnotes=list(h.entry.footnotes), score=h.score,
                                     band=getattr(h, "band", "strong") or "strong",
                                     confirm_with=tuple(getattr(h, "confirm_with", ()) or ())))
    return out


def _to_jur_facts(jur_mod: Any, hits: list[PartyFactLite]) -> list[Any]:
    # only firm hits make the FDP footnote steps apply; a possible hit is already a review finding
    return [jur_mod.PartyFact(party_index=h.party_index, role=h.role, name=h.name, list_code=h.list_code,
                              entry_name=h.entry_name, footnotes=h.footnotes, score=h.score)
            for h in hits if h.band == "strong"]


# the engine's step modules, imported on first use (the party screener pulls in the matcher and its index)
# and then kept (functools.cache): an import statement per shipment and step was ~1 % of a batch run (issue 14).
# Plain import statements, so the layer contracts and the type checker see them.


@cache
def _chart_mod() -> Any:
    from ecscreen.engine import chart

    return chart


@cache
def _parties_mod() -> Any:
    from ecscreen.parties import screening

    return screening


@cache
def _jur_mod() -> Any:
    from ecscreen.engine import jurisdiction

    return jurisdiction


@cache
def _lic_mod() -> Any:
    from ecscreen.engine import licensing

    return licensing


@cache
def _scope_mod() -> Any:
    from ecscreen.engine import listscope

    return listscope
