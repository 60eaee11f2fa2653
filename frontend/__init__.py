"""The page: templates and static files (no build step)."""
