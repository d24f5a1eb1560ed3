"""memhead for other frameworks, over ``memhead.client`` (each behind its own extra)."""
