"""Pydantic models for every external shape: shipment input, findings, reports.

Rule-pack models live in :mod:`ecscreen.packs.registry`; list/matching models in :mod:`ecscreen.parties.matching`.
"""

# No ``from __future__ import annotations`` here (issue 10): pydantic evaluates string annotations one
# by one when it creates a model class (a compile and an eval each); written as expressions they cost
# nothing more, ~25 % less per class, ~11 ms CPU of every check over these modules' ~80 pack and
# result models. Forward references (a class defined further down) are quoted.

import datetime as dt
from enum import StrEnum
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator


class Outcome(StrEnum):
    """Severity of a finding, ordered: prohibited > license_required > review > clear."""

    clear = "clear"
    review = "review"
    license_required = "license_required"
    prohibited = "prohibited"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @classmethod
    def worst(cls, outcomes: "list[Outcome]") -> "Outcome":
        return max(outcomes, key=lambda o: _RANK[o], default=cls.clear)


_RANK = {Outcome.clear: 0, Outcome.review: 1, Outcome.license_required: 2, Outcome.prohibited: 3}


def new_list() -> list[Any]:
    """The ``default_factory`` of the models' list fields: a new empty list, as ``list`` gives. A Python
    function, not the ``list`` type: when pydantic builds a model's validator (on first use: defer_build) it
    reads each default factory's signature, and for the builtin ``list`` that means parsing its text signature
    with the tokenizer, ~0.07 ms a field plus ~1.8 ms for the tokenizer's first use; a Python function's
    signature is read from its code (~0.005 ms). A check builds ~40 such fields (issue 10, start-up)."""
    return []


class StrictModel(BaseModel):
    # schemas are built when a model is first validated or serialised, not at import: a check uses few of them
    model_config = ConfigDict(extra="forbid", frozen=False, defer_build=True)


# --------------------------------------------------------------------------- input


class PartyRole(StrEnum):
    consignee = "consignee"
    end_user = "end_user"
    purchaser = "purchaser"
    intermediate_consignee = "intermediate_consignee"
    other = "other"


class Party(StrictModel):
    role: PartyRole = PartyRole.other
    name: str = Field(min_length=1)
    country: str | None = None
    address: str | None = None


class License(StrictModel):
    """A licence (or other authorisation) held for an item."""

    id: str = Field(min_length=1)
    destinations: list[str] = Field(default_factory=new_list, description="Countries the licence covers")
    expires: dt.date | None = None
    eccns: list[str] | None = Field(default=None, description="ECCNs covered (at least one); omitted = the item's own")
    all: bool = Field(default=False, description="true: the licence covers every ECCN (then omit eccns)")
    jurisdiction: str | None = Field(default=None, description="Issuing regime, e.g. US-EAR (default) or JP-FEFTA")

    @model_validator(mode="after")
    def _scope(self) -> "License":
        if self.eccns is not None and not self.eccns and not self.all:
            raise ValueError("eccns: [] covers nothing: list at least one ECCN, omit eccns for the item's own, "
                             "or write all: true for a licence covering every ECCN")
        if self.all and self.eccns:
            raise ValueError("all: true covers every ECCN: omit eccns")
        return self


ItemCategory = Literal["food", "medicine", "medical_device", "agricultural"]
ITEM_CATEGORIES: tuple[str, ...] = ("food", "medicine", "medical_device", "agricultural")


def normalize_hts(text: str) -> str | None:
    """'8471.30.0100' -> '8471300100'; None unless 6 to 10 ASCII digits once dots and spaces are removed."""
    digits = text.strip().replace(".", "").replace(" ", "")
    if not digits.isascii() or not digits.isdigit() or not 6 <= len(digits) <= 10:
        return None
    return digits


class Item(StrictModel):
    description: str = Field(min_length=1)
    eccn: str | None = None
    origin: str | None = None
    for_eccn: str | None = Field(
        default=None, description="For software, technology or equipment whose control depends on the items it is "
        "for ('software for items controlled by 1B001 for NP reasons'): the ECCN (and paragraph) of that item, e.g. "
        "1B001.a or EAR99. Not stated: such a control is a review naming this field")
    parameters: dict[str, float | bool] = Field(
        default_factory=dict,
        description="Technical parameters by the names the rule packs declare (case-insensitive): finite numbers "
        ">= 0; true/false only for parameters declared boolean. Unknown names are input errors.")
    us_content_percent: float | None = Field(default=None, ge=0, le=100)
    direct_product_of: list[str] | None = None
    plant_direct_product_of: list[str] | None = None
    contains_us_origin_ic: bool | None = Field(
        default=None, description="Does the foreign-made item incorporate a US-origin integrated circuit? (15 CFR 734.4)")
    us_content_eccns: list[str] | None = Field(
        default=None, description="ECCNs of the controlled US-origin content incorporated (de minimis exclusions)")
    ns_controlled: bool | None = Field(
        default=None, description="Is the item controlled for national security (NS) reasons? (FDP 734.9(b))")
    written_assurance: bool | None = Field(
        default=None, description="Was a written assurance obtained for the US technology used? (734.9(b)(1)(ii))")
    itar: bool | None = Field(
        default=None, description="Is the item a defense article subject to the ITAR (22 CFR 120-130)? (15 CFR 734.3(b)(1)(i))")
    usml_category: str | None = Field(
        default=None, description="U.S. Munitions List category of an ITAR item, e.g. 'XI(c)' (22 CFR 121.1)")
    hts_code: str | None = Field(
        default=None, validation_alias=AliasChoices("hts_code", "hs_code"),
        description="Harmonized Tariff Schedule code (6 to 10 digits; dots and spaces allowed, e.g. 8471.30.0100; "
        "also accepted as hs_code). Decides the HTS-listed controls (15 CFR part 746, Supplements No. 1, 4, 6)")
    category: ItemCategory | None = Field(
        default=None, description="What the item is, where a general authorisation depends on it: food "
        "(EAR part 772 'food': consumed by and nourishing humans or animals, seeds; not alcoholic beverages), "
        "medicine, medical_device, agricultural (agricultural commodity, e.g. 15 CFR 740.18; 31 CFR 560.530). "
        "Not stated: no such authorisation is assumed")
    license_exception: str | None = None
    licenses: list[License] = Field(default_factory=new_list)
    quantity: float | None = Field(default=None, allow_inf_nan=False)
    value_usd: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    sku: str | None = None

    @field_validator("eccn", "for_eccn")
    @classmethod
    def _norm_eccn(cls, v: str | None) -> str | None:
        if v is None:
            return None
        v = v.strip()
        return v or None

    @field_validator("hts_code", mode="before")
    @classmethod
    def _hts(cls, v: Any) -> Any:
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, str | int):
            raise ValueError("hts_code must be text such as '8471.30.0100'")
        text = str(v).strip()
        if not text:
            return None
        digits = normalize_hts(text)
        if digits is None:
            raise ValueError(f"hts_code must be 6 to 10 digits (dots and spaces allowed), not {text!r}")
        return digits

    @field_validator("category", mode="before")
    @classmethod
    def _category(cls, v: Any) -> Any:
        if isinstance(v, str):
            t = "_".join(v.strip().lower().replace("-", " ").split())
            if not t:
                return None
            if t not in ITEM_CATEGORIES:
                raise ValueError(f"category must be one of {', '.join(ITEM_CATEGORIES)}, not {v!r}")
            return t
        return v

    @field_validator("parameters", mode="before")
    @classmethod
    def _params(cls, v: Any) -> Any:
        if v is None:
            return {}
        return v


class Shipment(StrictModel):
    id: str | None = None
    date: dt.date | None = None
    destination: str = Field(min_length=1)
    destination_region: str | None = Field(
        default=None, description="Region within the destination (e.g. Crimea, Donetsk, Luhansk)"
    )
    parties: list[Party] = Field(default_factory=new_list)
    end_use: str | None = None
    items: list[Item] = Field(min_length=1)
    exporter_country: str | None = Field(
        default=None, description="Country the shipment is exported or re-exported from (default US)"
    )

    @field_validator("id", mode="before")
    @classmethod
    def _id(cls, v: Any) -> Any:
        return None if v is None else str(v)

    @field_validator("date", mode="before")
    @classmethod
    def _date(cls, v: Any) -> Any:
        # pydantic reads numbers as Unix timestamps (`date: 0` is 1970-01-01): a date is YYYY-MM-DD
        if isinstance(v, bool | int | float):
            raise ValueError(f"not a date: {v!r} (write YYYY-MM-DD)")
        return v


# --------------------------------------------------------------------------- output


class Citation(StrictModel):
    """A citation: a regulation (15 CFR section / FR page) or a source document (seed id)."""

    kind: Literal["regulation", "federal_register", "seed", "other"] = "regulation"
    ref: str
    note: str | None = None


class Evidence(StrictModel):
    field: str = Field(description="Input field the fact came from, e.g. items[0].eccn")
    value: Any = None
    matched: Any = None
    detail: str | None = None
    score: float | None = None


class Coverage(StrictModel):
    """Why a finding is covered (does not block): a licence, an exception, a waiver, a clearance."""

    kind: Literal["license", "license_exception", "waiver", "clearance", "general_license", "exclusion"]
    ref: str
    detail: str


class Finding(StrictModel):
    rule_id: str
    pack_id: str
    outcome: Outcome
    title: str
    message: str
    item_index: int | None = None
    jurisdiction: str = "US-EAR"
    evidence: list[Evidence] = Field(default_factory=new_list)
    citations: list[Citation] = Field(default_factory=new_list)
    effective_from: dt.date | None = None
    effective_to: dt.date | None = None
    covered_by: Coverage | None = None
    notes: list[str] = Field(default_factory=new_list)
    steps: "list[Step]" = Field(default_factory=new_list, description="Procedure chain (jurisdiction, chart)")

    @property
    def blocking(self) -> bool:
        return self.covered_by is None


class Step(StrictModel):
    """One step of a procedure chain (de minimis, FDP paragraph, chart column...)."""

    name: str
    outcome: str
    detail: str
    inputs: dict[str, Any] = Field(default_factory=dict)
    citations: list[Citation] = Field(default_factory=new_list)
    deciding: bool = False


class InputError(StrictModel):
    file: str | None = None
    line: int | None = None
    field: str | None = None
    message: str


class ItemJurisdiction(StrictModel):
    """Is the item subject to the EAR? The outcome of the jurisdiction chain for one item."""

    item_index: int
    status: Literal["subject", "not_subject", "unknown"]
    summary: str
    steps: list[Step] = Field(default_factory=new_list)


class PartyScreeningSummary(StrictModel):
    """What one party was screened against and what came out, so a clear party says so."""

    party_index: int
    name: str
    lists: list[str] = Field(default_factory=new_list, description="Lists screened against: 'name (date)'")
    matches: int = Field(default=0, description="Listed entities matched (firm + possible)")
    firm: int = Field(default=0, description="Of which firm (strong) matches")
    summary: str = ""


class ShipmentResult(StrictModel):
    id: str
    decision: Outcome | Literal["error"]
    as_of: dt.date | None = None
    destination: str | None = None
    destination_name: str | None = None
    findings: list[Finding] = Field(default_factory=new_list)
    errors: list[InputError] = Field(default_factory=new_list)
    warnings: list[str] = Field(default_factory=new_list)
    jurisdiction: list[ItemJurisdiction] = Field(default_factory=new_list)
    source: str | None = Field(default=None, description="file:line the shipment came from")
    party_screening: list[PartyScreeningSummary] = Field(
        default_factory=new_list, description="Per party: the lists it was screened against and the result")


class PackInfo(StrictModel):
    id: str
    version: str
    jurisdiction: str
    title: str
    sha256: str
    path: str
    rules: int = 0


class ListInfo(StrictModel):
    name: str
    source: str
    date: dt.date | None = None
    entries: int = 0
    aliases: int = 0
    sha256: str = ""
    age_days: int | None = None
    addresses: int = Field(default=0, description="Street addresses held by the list (0: address screening off)")
    origin: str | None = Field(
        default=None, description="snapshot (embedded), import, update (downloaded) or rules (own list under rules/)"
    )
    limits: list[str] = Field(default_factory=new_list, description="What this list cannot do (e.g. no addresses)")
    source_url: str | None = Field(default=None, description="Where the list file was retrieved from")
    retrieved_at: dt.datetime | None = Field(default=None, description="When it was retrieved (UTC)")
    file_sha256: str | None = Field(default=None, description="sha256 of the retrieved/imported file(s)")
    forced: str | None = Field(
        default=None, description="Set when the list was accepted with --force despite failing a list-health guard"
    )


class Report(StrictModel):
    tool: str = "ecscreen"
    tool_version: str = ""
    decision: Outcome | Literal["error"]
    generated_for: dt.date | None = Field(default=None, description="--as-of date if one was given")
    results: list[ShipmentResult] = Field(default_factory=new_list)
    packs: list[PackInfo] = Field(default_factory=new_list)
    lists: list[ListInfo] = Field(default_factory=new_list)
    warnings: list[str] = Field(default_factory=new_list)
    command: str = Field(default="check", description="the command (or API) that produced the report")
    options: dict[str, Any] = Field(default_factory=dict, description="the options of the run that change results")
    counts: dict[str, int] = Field(default_factory=dict, description="shipments per decision")

    def model_post_init(self, _ctx: Any) -> None:
        if not self.counts:
            c = dict.fromkeys(("clear", "review", "license_required", "prohibited", "error"), 0)
            for r in self.results:
                c[r.decision.value if isinstance(r.decision, Outcome) else str(r.decision)] += 1
            self.counts = c

    @property
    def exit_code(self) -> int:
        if any(r.decision == "error" for r in self.results):
            return 3
        if self.decision == Outcome.clear:
            return 0
        return 1


# (forward references resolved when the schema is first built: the models defer their build)
