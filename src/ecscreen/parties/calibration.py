"""Calibration plumbing: a part of ``Matcher`` (issue 10).

Each candidate the kernel proposes is scored again from its evidence (:data:`ecscreen.parties.matching.FEATURES`,
small functions over a :class:`ecscreen.parties.matching._CalCtx`), given its band and its explanation; the
pairwise scorer (:meth:`_Calibration._align`) and the word-by-word explanations live here too."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, cast

from rapidfuzz.distance import LCSseq

from ecscreen.domain.normalize import NormalizedName, normalize
from ecscreen.parties.candidates import _combine_one
from ecscreen.parties.kernel import _Kernel
from ecscreen.parties.query import _minor

if TYPE_CHECKING:
    # the matcher module (models, normalisation data, features): ecscreen.parties.matching binds it here as it
    # loads (see there), so that either module may be imported first
    from ecscreen.parties import matching as _m
    from ecscreen.parties.matching import Matcher, PartyHit
    from ecscreen.parties.query import _Query


# what calibrate decides about one hit beyond its query and alias, as plain data (marshal/pickle-cheap): score,
# name score, explanation, country match, band, features as (name, points, reason), firm block, confirm with
HitFields = tuple[float, float, str, "bool | None", Literal["strong", "possible"], list[tuple[str, float, str]], "str | None", list[str]]

# the PartyHit fields hit_fields carries (with query, entry and matched_alias, which the query and alias give);
# a test checks this against the model so that a new field cannot be dropped on the way back from a worker
HIT_FIELD_NAMES = ("score", "name_score", "explanation", "country_match", "band", "features", "firm_block",
                   "confirm_with")


def hit_fields(hit: PartyHit) -> HitFields:
    """``hit``'s calibrated fields as plain data: :meth:`_Calibration._hit_from_fields` rebuilds an equal hit."""
    return (hit.score, hit.name_score, hit.explanation, hit.country_match, hit.band,
            [(f.name, f.points, f.reason) for f in hit.features], hit.firm_block, list(hit.confirm_with))


class _Calibration(_Kernel):
    """Calibrated scores, bands and explanations of candidates; the pairwise scorer."""

    _facts: dict[int, _m._EntryFacts]  # see _entry_facts (set by Matcher.__init__)

    def _materialise_src(
        self, name: str, cands: list[tuple[int, int, bool]], country: str | None, threshold: float
    ) -> list[tuple[PartyHit, int, bool]]:
        """Calibrate every candidate (entry, alias) and keep, per entry, its best hit at the threshold, with
        the alias and acronym flag it was calibrated from."""
        cc = _m._country_code(country)
        best: dict[int, tuple[PartyHit, int, bool]] = {}
        seen: set[int] = set()
        for ei, alias, acronym in cands:
            if alias in seen:
                continue
            seen.add(alias)
            hit = self.calibrate(name, alias, acronym=acronym, country=cc, threshold=threshold)
            if hit is not None and hit.score >= threshold:
                cur = best.get(ei)
                if cur is None or (hit.score, hit.band == "strong") > (cur[0].score, cur[0].band == "strong"):
                    best[ei] = (hit, alias, acronym)
        return sorted(best.values(), key=lambda x: (-x[0].score, x[0].entry.id))

    def calibrate(
        self, name: str, alias: int, acronym: bool = False, country: str | None = None, threshold: float = 0.0
    ) -> PartyHit | None:
        """Score one candidate (query name x indexed alias) from its evidence and decide its band.

        The score is 100 plus the points of the features (:data:`FEATURES`, each a small function that
        returns its points and its reason), clamped to 0-100; the explanation is made of the same
        reasons, so it cannot drift from the score. ``strong`` needs the confirmation score and no
        feature that forbids a firm finding (one word, acronym, only common words ...).
        """
        cfg = self.config
        ctx, reading_pen = self._cal_context(name, alias, acronym, country)
        q, acronym, reading_why = ctx.q, ctx.acronym, ctx.reading
        if threshold > 0 and not acronym and _m.score_bound(ctx, reading_pen) < threshold - _m.BOUND_SLACK:
            return None  # cannot reach the threshold: no feature reasons built (see score_bound)
        raw: list[tuple[str, float, str]] = []
        blocks: list[str] = []
        total = 100.0
        if reading_why:
            raw.append(("reading", -reading_pen, f"read as '{' '.join(q.tokens)}' ({reading_why})"))
            total -= reading_pen
            if "sound" in reading_why:  # a rendering from another script: possible, never firm on sound alone
                blocks.append("the name matches only as a sound-alike rendering")
        for fn in _m.FEATURES:
            for fname, points, reason, block in fn(ctx):
                raw.append((fname, round(points, 1), reason))
                total += points
                if block:
                    blocks.append(block)
            if threshold > 0 and total < threshold - 5.0:  # later features add at most the country bonus
                return None
        if threshold > 0 and min(100.0, total) < threshold:
            return None
        feats = [_m.HitFeature(name=n, points=p, reason=r) for n, p, r in raw]
        blocks = _m._firm_blocks(ctx, acronym, blocks, feats)
        score = round(min(100.0, max(0.0, total)), 1)
        band: Literal["strong", "possible"] = "strong" if score >= cfg.confirm_score and not blocks else "possible"
        entry = self.entries[int(self.alias_entry[alias])]
        confirm = _m._confirm_with(entry, ctx.country_match) if band == "possible" else []
        alias_text = self.alias_text[alias]
        head = f"'{name}' ~ '{alias_text}' (score {score:g}, {band} match)"
        if q.norm.transliterated:
            head += f"; '{name}' transliterated to '{' '.join(q.norm.full_tokens)}'"
        reasons = [f"{f.reason} ({f.points:+g})" if f.points else f.reason for f in feats]
        fields: HitFields = (
            score,
            round(min(100.0, max(0.0, ctx.name_score - reading_pen)), 1),
            head + ": " + "; ".join(reasons),
            ctx.country_match,
            band,
            raw,
            "; ".join(dict.fromkeys(blocks)) or None,
            confirm,
        )
        return self._hit_from_fields(name, alias, fields, feats)

    def _hit_from_fields(
        self, name: str, alias: int, fields: HitFields, feats: list[_m.HitFeature] | None = None
    ) -> PartyHit:
        """The :class:`PartyHit` of query ``name`` x alias ``alias`` from its calibrated fields (see
        :func:`hit_fields`): how :meth:`calibrate` builds every hit, and how a forked worker's hits are rebuilt in
        the parent from plain data (issue 11: no second calibration of them there)."""
        score, name_score, explanation, country_match, band, raw, firm_block, confirm = fields
        if feats is None:
            feats = [_m.HitFeature(name=n, points=p, reason=r) for n, p, r in raw]
        return _m.PartyHit(
            query=name,
            entry=self.entries[int(self.alias_entry[alias])],
            matched_alias=self.alias_text[alias],
            score=score,
            name_score=name_score,
            explanation=explanation,
            country_match=country_match,
            band=band,
            features=feats,
            firm_block=firm_block,
            confirm_with=confirm,
        )

    def _cal_context(self, name: str, alias: int, acronym: bool, country: str | None) -> tuple[_m._CalCtx, float]:
        """The features' view of one candidate (the reading of the name that fits the alias, aligned word by
        word) and the points that reading costs."""
        entry = self._entry_facts(int(self.alias_entry[alias]))
        q = self._prepare(name)
        an = self.alias_norm[alias]
        if acronym and not _m._acronym_pair_size(q.norm, an):
            acronym = False  # proposed for another spelling of the name: score it as words
        reading_why, reading_pen = "", 0.0
        if not acronym:  # evasion hook (ecscreen.parties.variants): score the reading of the name that fits this alias
            q, reading_why, reading_pen = self._best_reading_penalty(q, an.tokens, bool(self.a_weak[alias]))
        ctx = _m._CalCtx(cast("Matcher", self), q, an, entry, acronym, country)
        ctx.alias = alias
        ctx.name = name
        ctx.reading = reading_why
        return ctx, reading_pen

    def _entry_facts(self, ei: int) -> _m._EntryFacts:
        """The type and countries of entry ``ei`` (what the features read), kept per entry: the entries of a
        cached list are decoded on use and only some thousands are kept decoded."""
        facts = self._facts
        got = facts.get(ei)
        if got is None:
            e = self.entries[ei]
            got = facts[ei] = _m._EntryFacts(e.type, e.countries)
        return got

    def _cal_weight(self, tok: str, query: bool) -> tuple[bool, float]:
        """(common or legal-form word?, weight in the calibration) of a query word or a list-name word: the
        word's weight, capped for a legal-form word (``legal_weight``) and a common word (``common_weight``)."""
        cache = self._cal_weights
        key = (tok, query)
        got = cache.get(key)
        if got is None:
            legal = tok in _m._legal_words()
            common = legal or tok in _m.common_words()
            w = self._token_info(tok)[1] if query else self._alias_weight(tok)
            cfg = self.config
            got = (common, min(w, cfg.legal_weight) if legal else min(w, cfg.common_weight) if common else w)
            if len(cache) > 500_000:
                cache.clear()
            cache[key] = got
        return got

    def _sim_of(self, t: str, u: str) -> float:
        """``token_sim(t, u)``, read from ``t``'s expansions when they are at hand and ``u`` is a list word (the
        expansions hold exactly the list words with ``token_sim`` > 0, as :meth:`_align` relies on too)."""
        vid = self.vocab.get(u)
        if vid is not None:
            info = self._info_cache.get(t)
            if info is not None:
                return info[0].get(vid, 0.0)
        return _m.token_sim(t, u, self.config)

    def _alias_weight(self, tok: str) -> float:
        if len(tok) == 1:
            return self.config.initial_weight
        vid = self.vocab.get(tok)
        if vid is not None:
            return self.idf_list[vid]
        w = self._oov_weight(tok)
        return w * self.config.patronymic_factor if _minor(tok) else w

    def _align(
        self, q: _Query, alias_tokens: Sequence[str], weak: bool = False
    ) -> tuple[float, float, float, list[tuple[int, str, float]], float]:
        """Pairwise scorer (same formula as the vectorised kernel). Returns score, P, R, pairs, E."""
        cfg = self.config
        pairs: list[tuple[int, str, float]] = []
        best_t = [0.0] * len(q.tokens)
        r_num = 0.0
        a_total = 0.0
        for u in alias_tokens:
            wu = self._alias_weight(u)
            a_total += wu
            bi, bs = -1, 0.0
            vid = self.vocab.get(u)
            for ti, t in enumerate(q.tokens):
                # a list word's similarity is already in the query word's expansions (same rules)
                s = q.expansions[ti].get(vid, 0.0) if vid is not None else _m.token_sim(t, u, cfg)
                if s > bs:
                    bi, bs = ti, s
            if bi >= 0:
                pairs.append((bi, u, bs))
                r_num += wu * bs
                if bs > best_t[bi]:
                    best_t[bi] = bs
        p_num = sum(w * s for w, s in zip(q.weights, best_t, strict=True))
        q_total = sum(q.weights)
        matched_q = [w for w, s in zip(q.weights, best_t, strict=True) if s > 0]
        matched_a = sum(self._alias_weight(u) for u in {u for _, u, _ in pairs})
        score = _combine_one(
            cfg, p_num, q_total, r_num, a_total, sum(matched_q), matched_a, max(matched_q, default=0.0), weak
        )
        p = p_num / max(q_total, 1e-9)
        r = r_num / max(a_total, 1e-9)
        return score, p, r, pairs, sum(matched_q)

    def compare(self, name1: str, name2: str) -> float:
        """Score a query name against a single list-side name (0-100), using this index's weights."""
        qn = normalize(name1)
        best = 0.0
        for variant in _m._name_variants([name2]):
            a = normalize(variant)
            a_tokens = _m._rejoin(list(a.tokens), set(qn.tokens))
            q = self._make_query(name1, qn, _m._rejoin(list(qn.tokens), set(a_tokens)))
            score = self._align(q, a_tokens, len(a_tokens) == 1)[0] if q.tokens and a_tokens else 0.0
            size = _m._acronym_pair_size(q.norm, a)
            if size:
                score = max(score, self._acronym_score(size))
            best = max(best, score)
        return best

    def _best_reading(self, q: _Query, alias_tokens: Sequence[str], weak: bool) -> tuple[_Query, str]:
        """The query reading (itself or one of ecscreen.parties.variants) scoring best against an alias, and why."""
        best, why, _ = self._best_reading_penalty(q, alias_tokens, weak)
        return best, why

    def _best_reading_penalty(
        self, q: _Query, alias_tokens: Sequence[str], weak: bool
    ) -> tuple[_Query, str, float]:
        """:meth:`_best_reading` with the points the reading costs (0 for the name as written)."""
        best, why, pen = q, "", 0.0
        readings = self._readings(q)
        if not readings:  # the usual case: the name as written is the only reading
            return best, why, pen
        top = self._align(q, alias_tokens, weak)[0] if q.tokens and alias_tokens else 0.0
        for reading, alt in readings:
            raw = self._align(alt, alias_tokens, weak)[0] if alt.tokens else 0.0
            score = raw - reading.penalty
            if raw >= reading.min_score and score > top:
                best, why, pen, top = alt, reading.reason, reading.penalty, score
        return best, why, pen

    def explain(
        self,
        name: str,
        alias: int,
        acronym: bool = False,
        country: str | None = None,
        country_match: bool | None = None,
    ) -> str:
        q = self._prepare(name)
        an = self.alias_norm[alias]
        alias_text = self.alias_text[alias]
        parts: list[str] = []
        if not acronym:  # evasion hook: explain with the reading (ecscreen.parties.variants) that scored this alias
            q, why = self._best_reading(q, an.tokens, bool(self.a_weak[alias]))
            if why:
                parts.append(f"read as '{' '.join(q.tokens)}' ({why})")
        if q.norm.transliterated:
            parts.append(f"'{name}' transliterated to '{' '.join(q.norm.full_tokens)}'")
        if acronym:
            if len(q.tokens) == 1:
                parts.append(f"'{q.tokens[0].upper()}' = initials of alias '{alias_text}'")
            else:
                parts.append(f"initials of '{name}' = alias '{alias_text}'")
        else:
            parts.extend(self._explain_words(q, an, alias))
        parts.extend(self._explain_forms_and_country(q, an, alias, country, country_match))
        return f"'{name}' matched alias '{alias_text}': " + "; ".join(parts)

    def _explain_words(self, q: _Query, an: NormalizedName, alias: int) -> list[str]:
        """The word-by-word part of an explanation: same words, near words, words without a counterpart,
        and why the score was reduced."""
        parts: list[str] = []
        weak = bool(self.a_weak[alias])
        score, p, r, pairs, e = self._align(q, an.tokens, weak)
        exact = [u for _, u, s in pairs if s >= 1.0]
        fuzzy = [(q.tokens[ti], u, s) for ti, u, s in pairs if s < 1.0]
        if exact:
            parts.append("same words: " + ", ".join(exact))
        for t, u, s in fuzzy:
            kind = "one letter apart" if LCSseq.similarity(t, u) >= max(len(t), len(u)) - 1 else "sound-alike"
            parts.append(f"'{t}' ~ '{u}' ({kind}, {s:.2f})")
        matched_q = {ti for ti, _, _ in pairs}
        extra_q = [t for i, t in enumerate(q.tokens) if i not in matched_q]
        matched_a = {u for _, u, _ in pairs}
        extra_a = [u for u in an.tokens if u not in matched_a]
        if extra_q:
            parts.append("query words not in alias: " + ", ".join(extra_q))
        if extra_a:
            parts.append("alias words not in query: " + ", ".join(extra_a))
        matched_w = [q.weights[ti] for ti in matched_q]
        if e < self.config.evidence:
            parts.append(f"matched words are common on the lists (weight {e:.1f} < {self.config.evidence:g})")
        elif max(matched_w, default=0.0) < self.config.distinct_min:
            parts.append("only generic words matched: score reduced")
        if weak and len(extra_q) > 0:
            parts.append("one-word list name inside a longer query (weak alias): score reduced")
        parts.append(f"coverage query {p:.0%}, alias {r:.0%}")
        return parts

    def _explain_forms_and_country(
        self, q: _Query, an: NormalizedName, alias: int, country: str | None, country_match: bool | None
    ) -> list[str]:
        """Abbreviations expanded, legal forms ignored, and what the country did to the score."""
        parts: list[str] = []
        expanded = sorted({f"{a}->{b}" for a, b in (*q.norm.expanded, *an.expanded)})
        if expanded:
            parts.append("abbreviations expanded: " + ", ".join(expanded))
        legal = sorted({*q.norm.legal, *an.legal})
        if legal:
            parts.append("legal form ignored: " + ", ".join(f"'{lf}'" for lf in legal))
        if country_match is True:
            parts.append(f"country {country} matches the entry")
        elif country_match is False:
            parts.append(
                f"country {country} not among the entry's countries "
                f"({', '.join(self.entries[int(self.alias_entry[alias])].countries)}): "
                f"score lowered by {self.config.country_penalty:g}"
            )
        return parts

