"""Account security: passwords and sessions, sign-in history, two-factor
login, passkeys, and secrets encrypted at rest."""
