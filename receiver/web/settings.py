"""The dashboard's settings, checked once when the app is built and logged at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from edge.errors import ConfigError


@dataclass(frozen=True)
class WebSettings:
    db_url: str = "receiver.sqlite"          # SQLite path or postgresql://host:port/db
    pg_schema: str | None = None
    secret_key: str | None = None            # None: the one kept in the database (made on first start)
    session_idle_s: int = 30 * 60            # a session unused this long has expired
    session_max_s: int = 12 * 3600           # and none lives longer than this
    secure_cookies: bool = False             # True behind HTTPS (cookies only sent over TLS)
    accept_patient_ref: bool = False         # show patient references only when the receiver accepts them
    stale_days: int = 7                      # a device not seen for longer is listed on the overview
    page_size: int = 50
    login_free_failures: int = 3             # failures (per user, per address) before logins slow down
    login_first_delay_s: int = 30            # then the wait doubles with every further failure
    login_max_delay_s: int = 15 * 60
    title: str = "fetal-edge dashboard"

    def __post_init__(self) -> None:
        for name in ("session_idle_s", "session_max_s", "stale_days", "page_size", "login_first_delay_s", "login_max_delay_s"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"dashboard {name}={value!r}: expected a whole number >= 1")
        if self.page_size > 500:
            raise ConfigError(f"dashboard page_size={self.page_size}: at most 500 rows a page")
        if self.secret_key is not None and len(self.secret_key) < 32:
            raise ConfigError("dashboard secret key: at least 32 characters (e.g. `openssl rand -hex 32`)")

    def public(self) -> dict[str, object]:
        """The settings in force, for the start-up log (no secret)."""
        return {k: v for k, v in self.__dict__.items() if k != "secret_key"}
