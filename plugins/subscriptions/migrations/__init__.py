"""Migration steps, applied in file-name order (core.migrations.steps)."""
