"""An invoice's PDF is rendered by the queue worker after the invoice is issued,
so the column is empty until then (frozen: never edit, add a step instead)."""

from core import allow_null

MIGRATION = allow_null("0005_invoice_pdf_later", "subscriptions_invoice", "pdf")
