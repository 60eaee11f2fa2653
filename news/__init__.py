"""News items: publishing one is what most notes come from."""
