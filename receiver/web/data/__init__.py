"""What the pages and the API show, as plain data: one module per page, each taking the database session,
the viewer's clinic scope and the filters. Pages render it, the API returns it as JSON: the same data."""
