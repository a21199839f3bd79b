"""Migration steps, applied in file-name order (core.data.migrations.steps)."""
