"""The web layer: core's pages and service API, forms, validation, formatting,
permissions and rate limits, and helpers for plugin pages."""
