"""Offline-first sync: payload schema (shared with the receiver), FHIR export, MQTT worker, telemetry."""
