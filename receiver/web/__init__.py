"""The central dashboard: a FastAPI app with server-rendered pages (Jinja2), a paginated JSON API with
OpenAPI, FHIR export, and users with roles. `create_app(WebSettings(...))` builds it; `fetal-receiver
dashboard` serves it (docs/dashboard.md)."""
