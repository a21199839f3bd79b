"""An invoice's frozen data as PDF/A-3 with embedded Factur-X XML (EN 16931).

The page is drawn with fpdf2 in DejaVu Sans, shipped in ``fonts/`` (Bitstream
Vera licence), because PDF/A requires every font embedded and fpdf2's core
fonts are not; the sRGB output intent comes with fpdf2. The XML is built with
drafthorse and attached with factur-x, which checks it against the XSD.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Any

from babel.numbers import format_currency
from drafthorse.models.accounting import ApplicableTradeTax
from drafthorse.models.document import Document
from drafthorse.models.note import IncludedNote
from drafthorse.models.party import TaxRegistration
from drafthorse.models.payment import PaymentTerms
from drafthorse.models.tradelines import LineItem
from facturx import generate_from_binary
from fpdf import FPDF
from fpdf.enums import OutputIntentSubType
from fpdf.output import PDFICCProfile

FONTS = Path(__file__).with_name("fonts")
EN16931 = "urn:cen.eu:en16931:2017"
REVERSE_NOTE = "Steuerschuldnerschaft des Leistungsempfängers (Reverse Charge)"
PAYMENT = {
    "sepa": "Der Betrag wird per SEPA-Lastschrift eingezogen.",
    "invoice": "Zahlbar innerhalb von 14 Tagen ohne Abzug.",
}


def euro(cents: int) -> str:
    """German amounts whatever the reader's language: the document is German."""
    return format_currency(Decimal(cents).scaleb(-2), "EUR", locale="de_DE")


def _amount(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2).quantize(Decimal("0.01"))


def _date(value: str) -> str:
    return dt.date.fromisoformat(value).strftime("%d.%m.%Y")


def _address(party: dict[str, Any]) -> list[str]:
    lines = [party["name"], party["street"], f"{party['postal_code']} {party['city']}".strip()]
    if party["country"] != "DE":
        lines.append(party["country"])
    return [line for line in lines if line]


def payment_note(data: dict[str, Any]) -> str:
    if data["payment_method"] != "sepa":
        return PAYMENT["invoice"]
    return (
        f"{PAYMENT['sepa']} Mandatsreferenz: {data['mandate_reference']}, "
        f"Gläubiger-Identifikationsnummer: {data['creditor_id']}."
    )


def xml(data: dict[str, Any]) -> bytes:
    """The Factur-X XML (EN 16931 profile) of the invoice."""
    doc = Document()
    doc.context.guideline_parameter.id = EN16931
    doc.header.id = data["number"]
    doc.header.type_code = "380"
    doc.header.issue_date_time = dt.date.fromisoformat(data["issued_on"])
    if data["reverse_charge"]:
        doc.header.notes.add(IncludedNote(content=REVERSE_NOTE))

    agreement = doc.trade.agreement
    for party, target in ((data["seller"], agreement.seller), (data["buyer"], agreement.buyer)):
        target.name = party["name"]
        target.address.line_one = party["street"] or None
        target.address.postcode = party["postal_code"] or None
        target.address.city_name = party["city"] or None
        target.address.country_id = party["country"]
        if party["vat_id"]:
            target.tax_registrations.add(TaxRegistration(id=("VA", party["vat_id"])))
        if party.get("tax_number"):
            target.tax_registrations.add(TaxRegistration(id=("FC", party["tax_number"])))

    start, end = (dt.date.fromisoformat(data[k]) for k in ("period_start", "period_end"))
    category = "AE" if data["reverse_charge"] else "S"
    for number, line in enumerate(data["lines"], 1):
        item = LineItem()
        item.document.line_id = str(number)
        item.product.name = line["description"]
        item.agreement.net.amount = _amount(line["net_cents"])
        item.delivery.billed_quantity = (Decimal(line["quantity"]), "C62")
        item.settlement.trade_tax.type_code = "VAT"
        item.settlement.trade_tax.category_code = category
        item.settlement.trade_tax.rate_applicable_percent = Decimal(line["vat_rate"])
        item.settlement.monetary_summation.total_amount = _amount(
            line["net_cents"] * line["quantity"]
        )
        doc.trade.items.add(item)

    settlement = doc.trade.settlement
    settlement.currency_code = data["currency"]
    settlement.period.start = start
    settlement.period.end = end
    tax = ApplicableTradeTax()
    tax.calculated_amount = _amount(data["vat_cents"])
    tax.basis_amount = _amount(data["net_cents"])
    tax.type_code = "VAT"
    tax.category_code = category
    tax.rate_applicable_percent = Decimal(data["vat_rate"])
    if data["reverse_charge"]:
        tax.exemption_reason = REVERSE_NOTE
        tax.exemption_reason_code = "VATEX-EU-AE"
    settlement.trade_tax.add(tax)
    settlement.terms.add(PaymentTerms(description=payment_note(data)))
    totals = settlement.monetary_summation
    totals.line_total = _amount(data["net_cents"])
    totals.charge_total = _amount(0)
    totals.allowance_total = _amount(0)
    totals.tax_basis_total = _amount(data["net_cents"])
    totals.tax_total = (_amount(data["vat_cents"]), data["currency"])
    totals.grand_total = _amount(data["gross_cents"])
    totals.due_amount = _amount(data["gross_cents"])
    return doc.serialize(schema="FACTUR-X_EN16931")


class _Page(FPDF):
    def __init__(self) -> None:
        super().__init__(format="A4")
        self.set_margins(20, 20, 20)
        self.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
        self.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
        icc = files("fpdf").joinpath("data/color_profiles/sRGB2014.icc").read_bytes()
        self.add_output_intent(
            OutputIntentSubType.PDFA,
            output_condition_identifier="sRGB",
            dest_output_profile=PDFICCProfile(contents=icc, n=3, alternate="DeviceRGB"),
            info="sRGB2014 (v2)",
        )


def _draft(data: dict[str, Any]) -> bytes:
    """The visible page: every field § 14 Abs. 4 UStG asks for."""
    sell, buyer = data["seller"], data["buyer"]
    pdf = _Page()
    pdf.set_title(f"Rechnung {data['number']}")
    pdf.set_author(sell["name"])
    pdf.set_lang("de-DE")
    pdf.set_creation_date(dt.datetime.fromisoformat(data["issued_on"]).replace(tzinfo=dt.UTC))
    pdf.add_page()
    pdf.set_font("DejaVu", size=8)
    pdf.cell(0, 5, " · ".join(_address(sell)), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("DejaVu", size=10)
    for line in _address(buyer):
        pdf.cell(0, 5, line, new_x="LMARGIN", new_y="NEXT")
    if buyer["vat_id"]:
        pdf.cell(0, 5, f"USt-IdNr.: {buyer['vat_id']}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(10)
    pdf.set_font("DejaVu", "B", 14)
    pdf.cell(0, 8, f"Rechnung {data['number']}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", size=10)
    facts = [
        ("Rechnungsnummer", data["number"]),
        ("Rechnungsdatum", _date(data["issued_on"])),
        (
            "Leistungszeitraum",
            f"{_date(data['period_start'])} – {_date(data['period_end'])}",
        ),
    ]
    for label, value in facts:
        pdf.cell(45, 6, label + ":")
        pdf.cell(0, 6, value, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)

    widths = (95, 25, 20, 30)
    pdf.set_font("DejaVu", "B", 10)
    for width, head, align in zip(
        widths, ("Leistung", "Preis netto", "USt.", "Summe netto"), "LRRR", strict=True
    ):
        pdf.cell(width, 7, head, border="B", align=align)
    pdf.ln()
    pdf.set_font("DejaVu", size=10)
    for line in data["lines"]:
        net = line["net_cents"] * line["quantity"]
        y = pdf.get_y()
        pdf.multi_cell(widths[0], 6, line["description"], align="L", new_x="RIGHT", new_y="TOP")
        height = max(6, pdf.get_y() - y)
        pdf.set_xy(pdf.l_margin + widths[0], y)
        pdf.cell(widths[1], 6, euro(net), align="R")
        pdf.cell(widths[2], 6, f"{line['vat_rate']} %", align="R")
        pdf.cell(widths[3], 6, euro(net), align="R")
        pdf.set_xy(pdf.l_margin, y + max(height, 12))
    pdf.ln(2)
    sums = [
        ("Summe netto", euro(data["net_cents"])),
        (f"Umsatzsteuer {data['vat_rate']} %", euro(data["vat_cents"])),
    ]
    for label, value in sums:
        pdf.cell(sum(widths[:3]), 6, label, align="R")
        pdf.cell(widths[3], 6, value, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "B", 10)
    pdf.cell(sum(widths[:3]), 7, "Gesamtbetrag", align="R", border="T")
    pdf.cell(widths[3], 7, euro(data["gross_cents"]), align="R", border="T")
    pdf.ln(12)
    pdf.set_font("DejaVu", size=10)
    if data["reverse_charge"]:
        pdf.multi_cell(0, 5, REVERSE_NOTE + ".", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
    pdf.multi_cell(0, 5, payment_note(data), new_x="LMARGIN", new_y="NEXT")

    pdf.set_y(-40)
    pdf.set_font("DejaVu", size=8)
    ids = []
    if sell["vat_id"]:
        ids.append(f"USt-IdNr.: {sell['vat_id']}")
    if sell["tax_number"]:
        ids.append(f"Steuernummer: {sell['tax_number']}")
    if sell["email"]:
        ids.append(sell["email"])
    pdf.multi_cell(0, 4, "\n".join([", ".join(_address(sell)), " · ".join(ids)]), new_x="LMARGIN")
    return bytes(pdf.output())


def render(data: dict[str, Any]) -> bytes:
    """The invoice as PDF/A-3 with its Factur-X XML attached (checked against the XSD)."""
    return generate_from_binary(
        _draft(data),
        xml(data),
        flavor="factur-x",
        level="en16931",
        check_xsd=True,
        pdf_metadata={
            "author": data["seller"]["name"],
            "keywords": "Factur-X, Rechnung",
            "title": f"Rechnung {data['number']}",
            "subject": f"Rechnung {data['number']}",
        },
        lang="de-DE",
    )
