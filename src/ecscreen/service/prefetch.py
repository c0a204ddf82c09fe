"""Party names of several requests matched together, ahead of their screenings.

The party matcher scores a batch of names for much less CPU per name than one name at a time (the index
look-ups, the candidate kernel and their set-up are shared by the batch: measured with bench_serve's first-seen
SEC names, 2 names per call ~1.6 ms, 8 names per call ~1.1 ms per request). ``ecscreen serve`` screens one
request at a time, but under load several requests are waiting at once (their data arrived in the same pass
of the event loop): :func:`warm` looks their party names up in one ``Matcher.search_many`` call, the call
each request's screening makes for its own names (``parties.screening.screen_party_batches``: the same
matcher, threshold and countries), so each screening then finds its names' hits in the matcher's hits cache.

Only speed depends on this: the matcher's results never depend on its caches or on which names are scored
together (``Matcher.search_many``), and the screenings run exactly as without it. A name whose key differs
from the screening's (another threshold, say) is simply looked up again by the screening.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("ecscreen.service")


def names_of(parsed: list[tuple[str, Any]]) -> list[tuple[str, str | None]]:
    """(name, country) of every party of the valid shipments in ``parsed`` (``parse_body``'s list)."""
    out: list[tuple[str, str | None]] = []
    for _, sh in parsed:
        parties = getattr(sh, "parties", None)  # an InputError has none
        if parties:
            out += [(p.name, p.country) for p in parties]
    return out


def warm(engine: Any, names: list[tuple[str, str | None]]) -> int:
    """Match ``names`` together into the hits cache of the matcher ``engine`` screens parties with; the
    number of distinct names looked up (0 when the engine screens no parties against lists)."""
    if not names or not getattr(engine, "use_lists", False) or getattr(engine, "party_screener", None) is not None:
        return 0
    from ecscreen.parties.screening import match_ahead

    uniq = list(dict.fromkeys(names))
    match_ahead([n for n, _ in uniq], [c for _, c in uniq], lists=engine.party_lists, matcher=engine.matcher)
    return len(uniq)
