"""Invoices for subscription charges (§ 14 UStG), numbered without gaps.

An invoice is issued in the transaction that books its charge: the number
comes from a counter row locked in that transaction, so a rollback gives the
number back and two transactions never share one. What the invoice says
(seller, buyer, lines, totals) is frozen as JSON and the PDF is stored with
it; rows are only ever inserted, a correction is a new document.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any
from zoneinfo import ZoneInfo

import peewee
from stdnum.eu import vat as eu_vat

from core import Account, BaseModel, ConfigError, database, enqueue, for_update, utcnow
from plugins.subscriptions.catalog import Plan
from plugins.subscriptions.models import BillingInfo, BillingRecord

BERLIN = ZoneInfo("Europe/Berlin")
VAT_RATE = 19  # percent, the German standard rate
RENDER_JOB = "subscriptions.render_invoice"
# A PDF still missing this long after its invoice was issued lost its job.
RENDER_GRACE = dt.timedelta(minutes=10)
CURRENCY = "EUR"
PREFIX = re.compile(r"[A-Z0-9]{1,10}")
NUMBER = re.compile(r"[A-Z0-9]{1,10}-[0-9]{4}-[0-9]{6,}")
SELLER_REQUIRED = (
    "KONTOR_SELLER_NAME",
    "KONTOR_SELLER_STREET",
    "KONTOR_SELLER_POSTAL_CODE",
    "KONTOR_SELLER_CITY",
)
SELLER_KEYS = (
    *SELLER_REQUIRED,
    "KONTOR_SELLER_COUNTRY",
    "KONTOR_SELLER_VAT_ID",
    "KONTOR_SELLER_TAX_NUMBER",
    "KONTOR_SELLER_EMAIL",
)


class InvoiceCounter(BaseModel):
    """The last number issued per series ("RE-2026"); locked while an invoice is issued."""

    series = peewee.CharField(max_length=30, primary_key=True)
    last = peewee.IntegerField(default=0)

    class Meta:
        table_name = "subscriptions_invoice_counter"


class Invoice(BaseModel):
    """An issued invoice: frozen data and the PDF as sent. Never updated.

    Erasing an account keeps its invoices (§ 147 AO); they go with the
    account's tombstone once the retention period has ended.
    """

    account = peewee.ForeignKeyField(Account, null=True, on_delete="CASCADE")
    billing_record = peewee.ForeignKeyField(
        BillingRecord, null=True, unique=True, on_delete="SET NULL"
    )
    number = peewee.CharField(max_length=40, unique=True)
    issued_on = peewee.DateField()
    period_start = peewee.DateField()
    period_end = peewee.DateField()
    net_cents = peewee.IntegerField()
    vat_cents = peewee.IntegerField()
    gross_cents = peewee.IntegerField()
    data_json = peewee.TextField()
    pdf = peewee.BlobField(null=True)  # rendered by the worker (render_pdf)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "subscriptions_invoice"

    @property
    def data(self) -> dict[str, Any]:
        return json.loads(self.data_json)

    @property
    def filename(self) -> str:
        return f"Rechnung-{self.number}.pdf"


INVOICE_MODELS = (InvoiceCounter, Invoice)
# What lists show: everything but the frozen data and the PDF, and whether the
# PDF is there yet (``ready``).
LISTED = (
    Invoice.id,
    Invoice.account,
    Invoice.number,
    Invoice.issued_on,
    Invoice.period_start,
    Invoice.period_end,
    Invoice.net_cents,
    Invoice.vat_cents,
    Invoice.gross_cents,
    Invoice.pdf.is_null(False).alias("ready"),
)


@dataclass(frozen=True)
class Party:
    name: str
    street: str
    postal_code: str
    city: str
    country: str
    vat_id: str = ""
    tax_number: str = ""
    email: str = ""


@dataclass(frozen=True)
class Seller(Party):
    prefix: str = "RE"


def check_seller_config(config: Mapping[str, Any]) -> None:
    """All or nothing: without seller data no invoice is issued; partial data stops the start."""
    given = [key for key in SELLER_KEYS if config.get(key)]
    if not given:
        return
    for key in SELLER_REQUIRED:
        if not config.get(key):
            raise ConfigError(f"{key}: required when any KONTOR_SELLER_* setting is given")
    if not (config.get("KONTOR_SELLER_VAT_ID") or config.get("KONTOR_SELLER_TAX_NUMBER")):
        raise ConfigError(
            "KONTOR_SELLER_VAT_ID: an invoice needs the seller's USt-IdNr "
            "or KONTOR_SELLER_TAX_NUMBER (Steuernummer)"
        )
    vat_id = config.get("KONTOR_SELLER_VAT_ID")
    if vat_id and not eu_vat.is_valid(vat_id):
        raise ConfigError(f"KONTOR_SELLER_VAT_ID: not a valid VAT id, got {vat_id!r}")
    country = config.get("KONTOR_SELLER_COUNTRY") or "DE"
    if not re.fullmatch(r"[A-Z]{2}", country):
        raise ConfigError(f"KONTOR_SELLER_COUNTRY: expected a two-letter code, got {country!r}")
    prefix = config.get("KONTOR_INVOICE_PREFIX") or "RE"
    if not PREFIX.fullmatch(prefix):
        raise ConfigError(
            f"KONTOR_INVOICE_PREFIX: expected 1 to 10 capital letters or digits, got {prefix!r}"
        )


def seller(config: Mapping[str, Any]) -> Seller | None:
    """The operator as seller, or None when invoicing is not configured."""
    if not config.get("KONTOR_SELLER_NAME"):
        return None
    return Seller(
        name=config["KONTOR_SELLER_NAME"],
        street=config["KONTOR_SELLER_STREET"],
        postal_code=config["KONTOR_SELLER_POSTAL_CODE"],
        city=config["KONTOR_SELLER_CITY"],
        country=config.get("KONTOR_SELLER_COUNTRY") or "DE",
        vat_id=eu_vat.compact(config.get("KONTOR_SELLER_VAT_ID") or ""),
        tax_number=config.get("KONTOR_SELLER_TAX_NUMBER") or "",
        email=config.get("KONTOR_SELLER_EMAIL") or "",
        prefix=config.get("KONTOR_INVOICE_PREFIX") or "RE",
    )


def _buyer(account: Account) -> Party:
    """The billing details as the buyer; without them the company name in Germany.

    Only what the invoice prints: its frozen copy outlives the account's
    erasure, so the billing e-mail address is left out."""
    info = BillingInfo.get_or_none(BillingInfo.account == account.id)
    if info is None:
        return Party(account.company_name, "", "", "", "DE")
    return Party(
        info.name or account.company_name,
        info.street,
        info.postal_code,
        info.city,
        (info.country or "DE").upper(),
        vat_id=eu_vat.compact(info.vat_id) if info.vat_id else "",
    )


def reverse_charge(sell: Party, buyer: Party) -> bool:
    """B2B service to a business in another EU state (§ 3a Abs. 2, § 13b UStG).

    Needs both VAT ids; the buyer's is checked for form and checksum (no
    VIES request). Everyone else is charged German VAT.
    """
    if not sell.vat_id or not buyer.vat_id or buyer.country == sell.country:
        return False
    return buyer.country.lower() in eu_vat.MEMBER_STATES and eu_vat.is_valid(buyer.vat_id)


def _local_date(value: dt.datetime) -> dt.date:
    """A stored (naive UTC) time as the calendar day in Germany."""
    return value.replace(tzinfo=dt.UTC).astimezone(BERLIN).date()


def last_day(start: dt.datetime, end: dt.datetime) -> dt.date:
    """The last day a charge pays for (Berlin time). Periods are stored with the
    renewal moment as their end; invoices and pages name the day before."""
    return max(_local_date(start), _local_date(end) - dt.timedelta(days=1))


def _next_number(prefix: str, year: int) -> str:
    """Take the series' next number; the row stays locked until the transaction ends."""
    series = f"{prefix}-{year}"
    InvoiceCounter.insert(series=series, last=0).on_conflict_ignore().execute()
    counter = for_update(InvoiceCounter.select().where(InvoiceCounter.series == series)).get()
    InvoiceCounter.update(last=InvoiceCounter.last + 1).where(
        InvoiceCounter.series == series
    ).execute()
    return f"{series}-{counter.last + 1:06d}"


def _vat(net: int, rate: int) -> int:
    """VAT in cents, rounded half up (amounts are never negative)."""
    return (net * rate + 50) // 100


def describe(plan: Plan, record: BillingRecord) -> str:
    interval = "jährlich" if record.interval == "year" else "monatlich"
    if record.kind == "upgrade":
        return f"Tarifwechsel zu {plan.name} ({interval}), anteilig für den Rest des Zeitraums"
    return f"Tarif {plan.name} ({interval})"


def issue(
    record: BillingRecord,
    plan: Plan,
    config: Mapping[str, Any],
    service_start: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> Invoice | None:
    """Issue the invoice for a charge, once; call inside the charge's transaction.

    None when invoicing is not configured, the charge is zero, or the record
    already has its invoice. ``service_start`` is where a pro-rata charge
    begins (the change), the period's start otherwise.
    """
    sell = seller(config)
    if sell is None or record.amount_cents <= 0:
        return None
    if Invoice.select().where(Invoice.billing_record == record.id).exists():
        return None
    now = now or utcnow()
    account = Account.get_by_id(record.account_id)
    buyer = _buyer(account)
    reverse = reverse_charge(sell, buyer)
    rate = 0 if reverse else VAT_RATE
    net = record.amount_cents
    vat = _vat(net, rate)
    start = _local_date(service_start or record.period_start)
    end = last_day(service_start or record.period_start, record.period_end)
    with database.atomic():
        issued_on = _local_date(now)
        number = _next_number(sell.prefix, issued_on.year)
        data = {
            "number": number,
            "issued_on": issued_on.isoformat(),
            "period_start": start.isoformat(),
            "period_end": end.isoformat(),
            "seller": asdict(sell),
            "buyer": asdict(buyer),
            "currency": CURRENCY,
            "reverse_charge": reverse,
            **_payment(account, config),
            "lines": [
                {
                    "description": describe(plan, record),
                    "quantity": 1,
                    "net_cents": net,
                    "vat_rate": rate,
                }
            ],
            "net_cents": net,
            "vat_rate": rate,
            "vat_cents": vat,
            "gross_cents": net + vat,
        }
        invoice = Invoice.create(
            account=account.id,
            billing_record=record.id,
            number=number,
            issued_on=issued_on,
            period_start=start,
            period_end=end,
            net_cents=net,
            vat_cents=vat,
            gross_cents=net + vat,
            data_json=json.dumps(data, ensure_ascii=False, sort_keys=True),
        )
        enqueue(RENDER_JOB, invoice_id=invoice.id)
        return invoice


def render_pdf(invoice_id: int) -> None:
    """Render an issued invoice's PDF from its frozen data and store it, once.

    A queue job: an upgrade issues its invoice in a web request, and fpdf2 and
    factur-x (about 40 MiB) would otherwise stay in that web worker for good.
    """
    invoice = Invoice.get_or_none(Invoice.id == invoice_id)
    if invoice is None or invoice.pdf is not None:
        return
    from plugins.subscriptions.invoice_pdf import render

    pdf = render(json.loads(invoice.data_json))
    Invoice.update(pdf=pdf).where(Invoice.id == invoice_id, Invoice.pdf.is_null()).execute()


def render_missing() -> int:
    """Render the PDFs whose job was lost (a worker that stopped mid-way); the
    periodic sweep. Returns how many it rendered."""
    waiting = Invoice.select(Invoice.id).where(
        Invoice.pdf.is_null(), Invoice.created_at < utcnow() - RENDER_GRACE
    )
    ids = [row.id for row in waiting]
    for invoice_id in ids:
        render_pdf(invoice_id)
    return len(ids)


def _payment(account: Account, config: Mapping[str, Any]) -> dict[str, str]:
    """How the invoice is paid; a direct debit names its mandate and creditor id."""
    info = BillingInfo.get_or_none(BillingInfo.account == account.id)
    if info is None or info.payment_method != "sepa":
        return {"payment_method": "invoice"}
    return {
        "payment_method": "sepa",
        "mandate_reference": info.mandate_reference,
        "creditor_id": config.get("KONTOR_SUBSCRIPTIONS_CREDITOR_ID") or "",
    }


def invoices(account: Account) -> list[Invoice]:
    """The account's invoices, newest first: the listed fields only (no data, no PDF)."""
    return list(
        Invoice.select(*LISTED)
        .where(Invoice.account == account.id)
        .order_by(Invoice.issued_on.desc(), Invoice.number.desc())
    )


def find(account: Account, number: str) -> Invoice | None:
    """The account's invoice with this number; another account's (or no number) is None."""
    if not NUMBER.fullmatch(number) or len(number) > 40:
        return None
    return Invoice.get_or_none(Invoice.account == account.id, Invoice.number == number)


def invoice_files(account: Account) -> dict[str, bytes]:
    """Every invoice of the account as ``{filename: pdf}``, for the data export
    (built by the worker, which renders a PDF that is still missing)."""
    for row in Invoice.select(Invoice.id).where(
        Invoice.account == account.id, Invoice.pdf.is_null()
    ):
        render_pdf(row.id)
    return {
        inv.filename: bytes(inv.pdf)
        for inv in Invoice.select().where(Invoice.account == account.id).order_by(Invoice.number)
    }
