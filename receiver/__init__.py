"""The central receiver: subscribes to every clinic's results, validates each message against the sync
payload schema (edge.sync.payload), stores it idempotently by result_id and serves a small read API."""
