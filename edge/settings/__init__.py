"""Config section parsers: one module per section, named after it (see edge.config)."""
