"""Data: the database, core's tables, migration histories, and the account
logic and lifecycle that work on them."""
