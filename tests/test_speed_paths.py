"""The fast paths of batch screening give exactly what the plain paths give (issue 14).

* the pairwise scorer's plain-float formula (``_combine_one``) equals the vectorised kernel formula
  (``_combine``) to the bit, including the rounding to two decimals and the sign of zero;
* scoring names in chunks of any size gives the same hits with the same scores;
* the batch's reused Party/Item objects equal freshly validated ones, and an item the model rejects
  is still rejected with the model's own message.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from pydantic import ValidationError

from ecscreen.model import Item, Party, PartyRole
from ecscreen.parties.matching import DEFAULT_CONFIG, ListEntry, Matcher, _combine, _combine_one
from ecscreen.runners.batch import BatchScreener

ROOT_ENTRIES = [
    ListEntry(id="1", source="Entity List", source_code="EL", name="Huawei Technologies Co., Ltd.",
              aliases=["Huawei"], countries=["CN"], type="Entity"),
    ListEntry(id="2", source="SDN", source_code="SDN", name="Mahan Air", aliases=["Mahan Airlines"],
              countries=["IR"], type="Entity"),
    ListEntry(id="3", source="SDN", source_code="SDN", name="Rosoboronexport", countries=["RU"], type="Entity"),
    ListEntry(id="4", source="Entity List", source_code="EL", name="Semiconductor Manufacturing International "
              "Corporation", aliases=["SMIC"], countries=["CN"], type="Entity"),
    ListEntry(id="5", source="SDN", source_code="SDN", name="Ivan Petrovich Sidorov", countries=["RU"],
              type="Individual"),
    ListEntry(id="6", source="Entity List", source_code="EL", name="Beijing Sugon Information Industry Co Ltd",
              aliases=["Sugon"], countries=["CN"], type="Entity"),
]


def test_combine_one_is_bit_identical_to_the_kernel_formula() -> None:
    rng = random.Random(7)
    cfg = DEFAULT_CONFIG
    for _ in range(20_000):
        qt = rng.choice([0.0, 1e-10, rng.uniform(0, 30)])
        at = rng.choice([0.0, rng.uniform(0, 30)])
        pn, rn = rng.uniform(0, qt), rng.uniform(0, at)
        mq = rng.choice([0.0, rng.uniform(0, qt), qt])
        ma = rng.choice([0.0, rng.uniform(0, at), at])
        mx = rng.uniform(0, mq) if mq else 0.0
        weak = rng.random() < 0.3
        kernel = _combine(cfg, *(np.array([x]) for x in (pn, qt, rn, at, mq, ma, mx)), np.array([weak]))
        assert repr(_combine_one(cfg, pn, qt, rn, at, mq, ma, mx, weak)) == repr(float(kernel[0]))


def test_chunk_size_never_changes_the_hits() -> None:
    m = Matcher(ROOT_ENTRIES)
    names = ["Huawei Technologies", "HUAWEI TECHNOLOGIES CO LTD", "Huawie", "Mahan Airlines", "Mahan Air Cargo",
             "Rosoboronexport Trading", "S.M.I.C.", "Semi-conductor Mfg. Int'l Corp.", "Ivan Sidorov",
             "I. P. Sidorov", "Acme Widgets Inc", "Sugon", "Beijing Sugon", "General Electric Co", "Best Buy"] * 3
    ref = m.match_raw(names, threshold=60, chunk_size=10_000)
    assert any(ref)
    for size in (1, 2, 7, 512):
        assert m.match_raw(names, threshold=60, chunk_size=size) == ref
    full = [[h.model_dump() for h in hs] for hs in m.search_many(names, chunk_size=10_000)]
    assert [[h.model_dump() for h in hs] for hs in m.search_many(names, chunk_size=3)] == full


def _screener() -> BatchScreener:
    return BatchScreener(engine=None)


@pytest.mark.parametrize("q,v", [(1.0, 10.5), (None, None), (100.0, None), (None, 0.0), (2.0, 1e9)])
def test_reused_item_equals_a_validated_item(q, v) -> None:
    sc = _screener()
    key = ("Network switch", "5A992.c", "US", (("tpp", 10.0),), 25.0, None, q, v, "SKU-1", "8471.30.0100", "food", "4A003")
    first = sc._item(key)
    again = sc._item(key[:6] + (3.0, 7.0) + key[8:])  # same product, other quantity and value: a copy
    fresh = Item(description="Network switch", eccn="5A992.c", origin="US", parameters={"tpp": 10.0},
                 us_content_percent=25.0, license_exception=None, quantity=q, value_usd=v, sku="SKU-1",
                 hts_code="8471.30.0100", category="food", for_eccn="4A003")
    assert first == fresh and first.model_fields_set == fresh.model_fields_set
    assert again.quantity == 3.0 and again.value_usd == 7.0 and again.hts_code == "8471300100"
    assert again.for_eccn == "4A003"
    assert first.quantity == q and first.value_usd == v  # the copy did not change the first one


def test_reused_item_still_rejects_what_the_model_rejects() -> None:
    sc = _screener()
    with pytest.raises(ValidationError) as plain:
        Item(description="x", hts_code="12", quantity=1.0, value_usd=1.0)
    with pytest.raises(ValidationError) as fast:
        sc._item(("x", None, None, (), None, None, 1.0, 1.0, None, "12", None, None))
    def brief(exc: ValidationError) -> list[tuple]:
        return [(e["type"], e["loc"], e["msg"], e["input"]) for e in exc.errors(include_url=False)]

    assert brief(fast.value) == brief(plain.value)
    with pytest.raises(ValidationError):  # a negative value never reaches the model through parse_row; still
        sc._item(("x", None, None, (), None, None, 1.0, -5.0, None, None, None, None))


def test_reused_parties_equal_validated_ones() -> None:
    sc = _screener()
    head = {"end_user": "Acme GmbH", "end_user_country": "DE", "consignee": None, "consignee_country": None,
            "purchaser": "Acme GmbH", "purchaser_country": None}
    a, b = sc._parties(head), sc._parties(dict(head))
    assert a == [Party(role=PartyRole.end_user, name="Acme GmbH", country="DE"),
                 Party(role=PartyRole.purchaser, name="Acme GmbH", country=None)]
    assert a == b and all(x is y for x, y in zip(a, b, strict=True))


def test_deletion_index_gives_what_the_dict_gave() -> None:
    from ecscreen.parties.matching import _DeletionIndex

    plain = {"huawei": [3, 1], "huwei": [3], "hawei": [3, 9], "zte": [7], "a": [2], "straße": [5], "strae": [5, 6],
             "中兴": [8]}
    di = _DeletionIndex(plain)
    assert len(di) == len(plain)
    for k, ids in plain.items():
        assert di.get(k) == ids
    assert di.get("nothere") == () and di.get("") == ()
    keys = ["hawei", "nothere", "zte", "huawei", "strae", "中兴", "x"]
    assert di.get_many(keys) == [plain.get(k) for k in keys]
    assert di == _DeletionIndex(dict(plain)) and di != _DeletionIndex({"zte": [7]})
