"""Screen shipment parties against the active restricted-party lists and turn hits into findings.

Outcome, message and citations per list come from the ``kind: party_lists`` data pack
(``rules/us-ear/party-lists.yaml``). Hits keep the list entry (with its Entity List footnotes) so the
Foreign Direct Product engine can use them; cleared hits (allow-list) are still reported, with
``covered_by=Coverage(kind="clearance")``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ecscreen.domain.normalize import NormalizedName, normalize
from ecscreen.errors import EcscreenError, InputFileError, PackError
from ecscreen.model import (
    Citation,
    Coverage,
    Evidence,
    Finding,
    ListInfo,
    Outcome,
    Party,
    PartyScreeningSummary,
)
from ecscreen.packs.registry import PackMeta, default_rules_dir, register_kind, yamlio
from ecscreen.parties.matching import (
    MAX_NAME_CHARS,
    AllowList,
    Clearance,
    ListEntry,
    Matcher,
    PartyHit,
    index_cache_dir,
)
from ecscreen.parties.store import OwnList, ScreeningList, active_lists, matcher_for
from ecscreen.settings import Settings

__all__ = [
    "PartyListRule",
    "PartyListsPack",
    "PartyScreening",
    "ClearanceFile",
    "screen_parties",
    "screen_party_batches",
    "load_allowlists",
    "default_allowlist",
    "load_pack",
    "load_allowlist",
    "group_hits",
]

DEFAULT_MAX_AGE_DAYS = 45


class PartyListRule(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    outcome: Outcome
    title: str = Field(min_length=1)
    message: str = Field(min_length=1)
    citations: list[Citation] = Field(default_factory=list)


class PartyListsPack(BaseModel):
    """``kind: party_lists``: what a hit on each list means."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    kind: Literal["party_lists"]
    pack: PackMeta
    threshold: float = Field(default=80.0, ge=0, le=100)
    confirm_score: float = Field(
        default=92.0, ge=0, le=100,
        description="hits scoring below this are possible matches: their outcome is capped at review")
    max_age_days: int = Field(default=DEFAULT_MAX_AGE_DAYS, ge=1)
    default: PartyListRule
    lists: dict[str, PartyListRule] = Field(default_factory=dict)

    def rule_for(self, code: str) -> PartyListRule:
        return self.lists.get(code.upper(), self.default)


register_kind("party_lists", PartyListsPack)
register_kind("party_list", OwnList)


class ClearanceFile(BaseModel):
    """An allow-list file: ``kind: party_clearances`` with ``clearances: [...]``."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    kind: Literal["party_clearances"] = "party_clearances"
    clearances: list[Clearance] = Field(default_factory=list)


def _validate_file(model: type[BaseModel], path: Path, error: type[EcscreenError]) -> Any:
    return _validate_data(model, yamlio.load_file(path, error=error), path, error)


def _validate_data(model: type[BaseModel], data: Any, path: Path, error: type[EcscreenError]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errs = yamlio.pydantic_errors(exc, data, str(path))
        line, fld, msg = errs[0]
        more = f" (and {len(errs) - 1} more error(s))" if len(errs) > 1 else ""
        raise error(msg + more, file=str(path), line=line, field=fld) from None


def load_pack(path: Path | None = None) -> PartyListsPack:
    """Load the party_lists pack (default: the shipped ``us-ear/party-lists.yaml``)."""
    if path is None:
        return _default_pack()
    return _load_pack_cached(str(path))


@lru_cache(maxsize=1)
def _default_pack() -> PartyListsPack:
    return _load_pack_cached(str(default_rules_dir() / "us-ear" / "party-lists.yaml"))


@lru_cache(maxsize=4)
def _load_pack_cached(path: str) -> PartyListsPack:
    """The validated pack, through the derived cache (keyed by the file's path and text, the ecscreen sources'
    stamps and pydantic's version): parsing and validating it was ~3 ms of every check with parties."""
    cache_dir = index_cache_dir()
    if cache_dir is None:
        pack: PartyListsPack = _validate_file(PartyListsPack, Path(path), PackError)
        return pack
    from ecscreen.parties.derived import cached
    from ecscreen.settings import dist_version, package_stamp

    text = yamlio.read_text(Path(path), error=PackError)

    def build(_key: bytes) -> PartyListsPack:
        data = yamlio.parse(text, file=path, json_hint=path.lower().endswith(".json"), error=PackError)
        built: PartyListsPack = _validate_data(PartyListsPack, data, Path(path), PackError)
        return built

    key = b"\x00".join([package_stamp(), f"pydantic {dist_version('pydantic')} {dist_version('pydantic-core')}".encode(),
                        path.encode("utf-8", "surrogatepass"), text.encode("utf-8", "surrogatepass")])
    return cached("party-lists-pack", key, build, lambda v: isinstance(v, PartyListsPack), cache_dir)


def load_allowlist(path: Path | str) -> AllowList:
    """Read an allow-list (clearances) file; errors name file, line and field."""
    cf: ClearanceFile = _validate_file(ClearanceFile, Path(path), InputFileError)
    return AllowList(cf.clearances)


@dataclass
class PartyScreening:
    """Hits per party (same order as the input), the findings they produce, and warnings."""

    hits: list[list[PartyHit]]
    findings: list[Finding]
    warnings: list[str] = field(default_factory=list)  # about this shipment (expired clearances)
    lists: list[ListInfo] = field(default_factory=list)
    list_warnings: list[str] = field(default_factory=list)  # about the lists (staleness), once per run
    summaries: list[PartyScreeningSummary] = field(default_factory=list)  # per party: lists screened, result

    @property
    def footnote_hits(self) -> list[tuple[int, PartyHit]]:
        """(party index, hit) of uncleared hits whose entry carries Entity List FDP footnotes."""
        return [(i, h) for i, hs in enumerate(self.hits) for h in hs if h.entry.footnotes and h.cleared is None]


def _max_age(max_age_days: int | None) -> int:
    """The staleness limit: the caller's (``ECSCREEN_LIST_MAX_AGE_DAYS`` via the settings), else the
    party_lists pack's ``max_age_days``."""
    if max_age_days is not None:
        return max_age_days
    try:
        return load_pack().max_age_days
    except EcscreenError:
        return DEFAULT_MAX_AGE_DAYS


def _staleness(lists: list[ScreeningList], as_of: dt.date,
               max_age_days: int | None = None) -> tuple[list[ListInfo], list[str]]:
    limit = _max_age(max_age_days)
    infos: list[ListInfo] = []
    warnings: list[str] = []
    for sl in lists:
        info = sl.info.model_copy()
        if info.date is not None:
            info.age_days = (as_of - info.date).days
            if info.age_days > limit:
                warnings.append(
                    f"list '{info.name}' is dated {info.date} ({info.age_days} days before {as_of}, "
                    f"older than {limit} days): get a current list with 'ecscreen lists update' (or 'ecscreen lists import FILE')"
                )
        infos.append(info)
    return infos, warnings


def list_status(lists: list[ScreeningList], as_of: dt.date,
                max_age_days: int | None = None) -> tuple[list[ListInfo], list[str]]:
    """ListInfo of ``lists`` (with age at ``as_of``) and their staleness warnings, for reports."""
    return _staleness(lists, as_of, max_age_days)


_FR_SPLIT = re.compile(r"\s*[;,]\s*")


def _fr_citations(entry: ListEntry) -> list[Citation]:
    out: list[Citation] = []
    for ref in _FR_SPLIT.split(entry.federal_register_notice or ""):
        ref = " ".join(ref.split())
        if ref and not any(c.ref == ref for c in out):
            out.append(Citation(kind="federal_register", ref=ref, note=f"list entry {entry.id}"))
    return out


class _SafeDict(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _entity_key(entry: ListEntry, norm: Callable[[str], NormalizedName] = normalize) -> frozenset[tuple[str, ...]]:
    """Normalised names of a list entry: entries sharing one are the same real entity for reporting."""
    keys = set()
    for text in (entry.name, *entry.aliases):
        toks = tuple(sorted(norm(text).tokens))
        if toks:
            keys.add(toks)
    return frozenset(keys)


def group_hits(hits: list[PartyHit], norm: Callable[[str], NormalizedName] = normalize) -> list[list[PartyHit]]:
    """Hits of one party grouped by listed entity: entries that share a (normalised) name or alias, or
    matched the same list name, are one real entity on several lists / sub-lists. Order: best first.

    ``norm``: how names are normalised; the matcher's :meth:`~ecscreen.matching.Matcher.normalized` gives
    the same result from its index (without importing the romanisation tables for Han-script aliases)."""
    groups: list[tuple[set[tuple[str, ...]], list[PartyHit]]] = []
    for h in hits:
        keys = set(_entity_key(h.entry, norm)) | {tuple(sorted(norm(h.matched_alias).tokens))}
        joined = [g for g in groups if g[0] & keys]
        if not joined:
            groups.append((keys, [h]))
            continue
        first = joined[0]
        first[0].update(keys)
        first[1].append(h)
        for g in joined[1:]:
            first[0].update(g[0])
            first[1].extend(g[1])
            groups.remove(g)
    return [g[1] for g in groups]


def _strong(pack: PartyListsPack, hit: PartyHit) -> bool:
    return hit.band == "strong" and hit.score >= pack.confirm_score


def _finding(
    pack: PartyListsPack, idx: int, party: Party, group: list[PartyHit], as_of: dt.date
) -> Finding:
    """One finding for one listed entity (its hits on every list / sub-list), outcome by band: a strong
    hit gets the worst list outcome; a possible hit is ``review`` and says what would confirm it."""
    ranked = sorted(group, key=lambda h: (-pack.rule_for(h.entry.source_code).outcome.rank, -h.score, h.entry.id))
    hit = ranked[0]
    e = hit.entry
    rule = pack.rule_for(e.source_code)
    best = max(group, key=lambda h: (h.score, h.band == "strong"))
    strong = any(_strong(pack, h) for h in group)
    values = _SafeDict(
        party=party.name,
        role=party.role.value.replace("_", " ").capitalize(),
        entry=e.name,
        alias=hit.matched_alias,
        score=f"{hit.score:g}",
        list=e.source,
        list_code=e.source_code,
        license_requirement=(e.license_requirement or "see the list entry").rstrip(". "),
        license_policy=(e.license_policy or "see the list entry").rstrip(". "),
        programs=", ".join(e.programs) or "not stated",
        footnotes=", ".join(str(f) for f in e.footnotes) or "none",
    )
    listed = sorted({(h.entry.source_code, pack.rule_for(h.entry.source_code).outcome.value) for h in group})
    also = [f"{code} ({out})" for code, out in listed]
    worst = rule.outcome
    if strong:
        outcome = worst
        message = " ".join(rule.message.format_map(values).split())
        if len(listed) > 1:
            message += f" The same entity is listed on: {', '.join(also)}."
    else:
        outcome = worst if worst.rank <= Outcome.review.rank else Outcome.review
        confirm = ", ".join(best.confirm_with) or "address, country, identifiers"
        why = best.firm_block or f"score {best.score:g} below the confirmation score {pack.confirm_score:g}"
        message = (
            f"{values['role']} '{party.name}' is a possible match for '{e.name}' (alias '{best.matched_alias}', "
            f"score {best.score:g}) on {', '.join(also)}; not a firm finding ({why}). Confirm or rule out the "
            f"identity with: {confirm}. If it is the listed party, the outcome is {worst.value}: {rule.title}."
        )
    evidence = [
        Evidence(
            field=f"parties[{idx}].name",
            value=party.name,
            matched=best.matched_alias,
            detail=best.explanation,
            score=best.score,
        ),
    ]
    for h in sorted(group, key=lambda h: (h.entry.source_code, h.entry.id)):
        evidence.append(
            Evidence(
                field=f"parties[{idx}].name",
                value=h.entry.id,
                matched=h.entry.name,
                detail=f"list entry {h.entry.id} on {h.entry.source}" + (f" ({h.entry.list_name})" if h.entry.list_name else "")
                + f": {pack.rule_for(h.entry.source_code).outcome.value} if confirmed",
                score=h.score,
            )
        )
    if best.country_match is not None:
        evidence.append(
            Evidence(
                field=f"parties[{idx}].country",
                value=party.country,
                matched=e.countries,
                detail="country matches the entry" if best.country_match else "country differs from the entry",
            )
        )
    notes: list[str] = []
    if not strong and worst.rank > Outcome.review.rank:
        notes.append(f"Possible match only: confirm the identity; if this is the listed party the outcome is "
                     f"{worst.value}.")
    if e.license_requirement:
        notes.append(f"Licence requirement (list text): {e.license_requirement}")
    if e.license_policy:
        notes.append(f"Licence review policy (list text): {e.license_policy}")
    fns = sorted({f for h in group for f in h.entry.footnotes})
    if fns:
        notes.append(
            "Entity List footnote designation(s) "
            + ", ".join(str(f) for f in fns)
            + ": the Foreign Direct Product rules of 15 CFR 734.9(e)/(g) can apply"
        )
    if best.country_match is False:
        notes.append("The party's country is not among the entry's countries: confirm identity before acting.")
    if e.source_url:
        notes.append(f"Source: {e.source_url}")
    covered = None
    cleared = [h.cleared for h in group if h.cleared is not None]
    if cleared and len(cleared) == len(group):
        c = cleared[0]
        covered = Coverage(
            kind="clearance",
            ref=f"{c.party} / {c.entry_id}",
            detail=f"cleared by {c.approver}: {c.reason}" + (f" (expires {c.expires})" if c.expires else ""),
        )
    citations = list(rule.citations)
    for h in ranked:
        for cit in [*pack.rule_for(h.entry.source_code).citations, *_fr_citations(h.entry)]:
            if not any(x.ref == cit.ref for x in citations):
                citations.append(cit)
    return Finding(
        rule_id=f"PARTY-{e.source_code}",
        pack_id=pack.pack.id,
        outcome=outcome,
        title=rule.title if strong else f"Possible match: {rule.title}",
        message=message,
        evidence=evidence,
        citations=citations,
        effective_from=e.start_date,
        covered_by=covered,
        notes=notes,
    )


def _summary(
    idx: int, party: Party, infos: list[ListInfo], groups: list[list[PartyHit]], pack: PartyListsPack
) -> PartyScreeningSummary:
    lists = [f"{i.name} ({i.date or 'undated'})" for i in infos]
    head = f"screened against {len(infos)} list(s) [{'; '.join(lists)}]"
    strong = sum(1 for g in groups if any(_strong(pack, h) for h in g))
    if not groups:
        text = head + ": no match"
    else:
        text = head + f": {len(groups)} listed entit{'y' if len(groups) == 1 else 'ies'} matched ({strong} firm, " \
            f"{len(groups) - strong} possible)"
    return PartyScreeningSummary(party_index=idx, name=party.name, lists=lists, matches=len(groups), firm=strong,
                                 summary=text)


def screen_parties(
    parties: list[Party],
    *,
    as_of: dt.date,
    allowlist: AllowList | None = None,
    lists: list[ScreeningList] | None = None,
    threshold: float | None = None,
    limit: int = 5,
    pack: PartyListsPack | None = None,
    max_age_days: int | None = None,
    matcher: Matcher | None = None,
) -> PartyScreening:
    """Screen ``parties`` against ``lists`` (default: the active lists) as of ``as_of``.

    ``allowlist``: the clearances (None: none; the CLI passes ``--clearances`` or ``$ECSCREEN_CLEARANCES``).
    """
    return screen_party_batches(
        [parties], as_of=as_of, allowlist=allowlist, lists=lists, threshold=threshold, limit=limit, pack=pack,
        max_age_days=max_age_days, matcher=matcher,
    )[0]


def _matching(pack: PartyListsPack, lists: list[ScreeningList] | None, matcher: Matcher | None,
              threshold: float | None) -> tuple[list[ScreeningList], Matcher, float]:
    """The lists, matcher and threshold a screening uses: the given ones, else the active lists, their matcher
    (the context's, loaded once) and the pack's threshold."""
    active = lists if lists is not None else active_lists()
    return active, matcher if matcher is not None else matcher_for(active), (
        pack.threshold if threshold is None else threshold)


def match_ahead(names: list[str], countries: list[str | None], *, lists: list[ScreeningList] | None = None,
                matcher: Matcher | None = None) -> None:
    """Score ``names`` together into the hits cache of the matcher that :func:`screen_party_batches` will use
    with the same ``lists``/``matcher`` (same threshold), so its screenings find them there. Speed only: the
    matcher's results never depend on its caches or on which names are scored together."""
    _, m, thr = _matching(load_pack(), lists, matcher, None)
    m.search_many(names, countries, threshold=thr)


def screen_party_batches(
    batches: list[list[Party]],
    *,
    as_of: dt.date,
    allowlist: AllowList | None = None,
    lists: list[ScreeningList] | None = None,
    threshold: float | None = None,
    limit: int = 5,
    pack: PartyListsPack | None = None,
    workers: int = 1,
    max_age_days: int | None = None,
    matcher: Matcher | None = None,
) -> list[PartyScreening]:
    """Screen the parties of many shipments in one pass (one ``PartyScreening`` per shipment).

    All names go through the matcher together, so identical names across shipments are scored once;
    this is the entry point for batch screening.
    """
    pack = pack or load_pack()
    active, matcher, thr = _matching(pack, lists, matcher, threshold)
    infos, list_warns = _staleness(active, as_of, max_age_days)
    names = [p.name for parties in batches for p in parties]
    long_names = {n for n in names if len(n) > MAX_NAME_CHARS}
    countries = [p.country for parties in batches for p in parties]
    flat_hits = matcher.search_many(names, countries, threshold=thr, limit=limit, workers=workers)
    out: list[PartyScreening] = []
    pos = 0
    for parties in batches:
        hits = flat_hits[pos : pos + len(parties)]
        pos += len(parties)
        warnings: list[str] = []
        findings: list[Finding] = []
        summaries: list[PartyScreeningSummary] = []
        for idx, (party, party_hits) in enumerate(zip(parties, hits, strict=True)):
            party_hits = [_rebanded(pack, h) for h in party_hits]
            for j, hit in enumerate(party_hits):
                if allowlist is not None:
                    cleared, warn = allowlist.lookup(party.name, hit.entry.id, as_of, party.country)
                    if warn:
                        warnings.append(warn)
                    if cleared is not None:
                        party_hits[j] = hit.model_copy(update={"cleared": cleared})
            hits[idx] = party_hits
            # cleared hits stay findings of their own (covered by the clearance); the rest are merged
            groups = group_hits([h for h in party_hits if h.cleared is None], matcher.normalized)
            groups += [[h] for h in party_hits if h.cleared is not None]
            for group in groups:
                findings.append(_finding(pack, idx, party, group, as_of))
            if party.name in long_names:
                findings.append(_long_name_finding(pack, idx, party))
            if party.address:  # the address matcher's module only for a party with an address (~2 ms of a check)
                from ecscreen.parties.addresses import address_findings

                findings.extend(address_findings(pack, idx, party, party_hits, active, as_of, allowlist))
            summaries.append(_summary(idx, party, infos, groups, pack))
        out.append(
            PartyScreening(hits=hits, findings=findings, warnings=warnings, lists=infos, list_warnings=list_warns,
                           summaries=summaries)
        )
    return out


def _rebanded(pack: PartyListsPack, hit: PartyHit) -> PartyHit:
    """The pack's confirmation score decides the band together with the matcher's evidence."""
    band = "strong" if hit.band == "strong" and hit.score >= pack.confirm_score else "possible"
    return hit if band == hit.band else hit.model_copy(update={"band": band})


def _long_name_finding(pack: PartyListsPack, idx: int, party: Party) -> Finding:
    """Fail closed: a name longer than MAX_NAME_CHARS is screened on its first MAX_NAME_CHARS characters
    only, so the shipment is never clear on it."""
    return Finding(
        rule_id="PARTY-NAME-TOO-LONG",
        pack_id=pack.pack.id,
        outcome=Outcome.review,
        title="Party name too long to screen in full",
        message=(f"{party.role.value.replace('_', ' ').capitalize()} name is {len(party.name):,} characters long: "
                 f"only its first {MAX_NAME_CHARS} characters were screened. Enter the party's real name."),
        evidence=[Evidence(field=f"parties[{idx}].name", value=party.name[:80] + "...",
                           detail=f"{len(party.name)} characters > {MAX_NAME_CHARS}")],
    )


def default_allowlist() -> AllowList | None:
    """The clearances of the files the settings name (``$ECSCREEN_CLEARANCES``), or None: the default of
    callers that pass no allow-list of their own (screening itself never falls back to it)."""
    return load_allowlists(list(Settings.from_env().clearances))


def load_allowlists(paths: Sequence[str | Path]) -> AllowList | None:
    """The clearances of these files together (None when no file is given); cached per file and
    modification time, so a long-running process sees edits."""
    if not paths:
        return None
    keys = tuple(str(p) for p in paths)
    stamps = tuple(Path(p).stat().st_mtime_ns if Path(p).is_file() else 0 for p in keys)
    return _allowlist_cached(keys, stamps)


@lru_cache(maxsize=8)
def _allowlist_cached(paths: tuple[str, ...], stamps: tuple[int, ...]) -> AllowList:
    clearances: list[Clearance] = []
    for p in paths:
        clearances.extend(load_allowlist(p).clearances)
    return AllowList(clearances)
