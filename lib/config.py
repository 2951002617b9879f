"""Settings: read once from the environment (and, in the app, ``.streamlit/secrets.toml``).

Every setting is declared here with its help text; README.md documents each one (a test checks).
Secrets are never printed: ``repr(Settings)`` masks them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from lib.errors import ConfigError


def _setting(default: Any, help: str, secret: bool = False) -> Any:
    return field(default=default, metadata={"help": help, "secret": secret})


@dataclass(frozen=True)
class Settings:
    database_url: str = _setting(
        "",
        "PostgreSQL URL (postgresql://...) for PostgreSQL direct, e.g. a Supabase project's connection string; "
        "unset means the embedded PostgreSQL server under data/pg (started, migrated and seeded on first use).",
        secret=True,
    )
    supabase_url: str = _setting(
        "", "Supabase project URL; with SUPABASE_KEY and SUPABASE_JWT_SECRET selects the Supabase REST backend.")
    supabase_key: str = _setting("", "Supabase server-side key (service role / secret key). Never a publishable key.", True)
    supabase_jwt_secret: str = _setting(
        "", "Supabase project's JWT secret: signs each user's short-lived token (the REST backend calls the "
        "database as that user, under row-level security).", True)
    db_timeout_seconds: float = _setting(15.0, "Seconds a database statement or REST request may take.")
    export_timeout_seconds: float = _setting(
        300.0, "Seconds a test-calls CSV export may take in all (its own limit, longer than DB_TIMEOUT_SECONDS)."
    )
    export_concurrency: int = _setting(
        2, "Test-calls exports one server process runs at once (each on its own connection); more wait, then are refused."
    )
    api_requests_per_minute: int = _setting(
        60, "HTTP API: requests one token (or signed link) may make per minute on one server process; more get 429.")
    auth_mode: str = _setting("local", "Sign-in mode: 'local' (credentials file) or 'clerk' (Clerk session tokens).")
    auth_credentials_path: str = _setting(
        ".streamlit/credentials.yaml", "Local mode: path of the credentials file (bcrypt hashes)."
    )
    auth_cookie_key: str = _setting("", "Local mode: secret that signs the re-login cookie (random if unset).", True)
    auth_max_attempts: int = _setting(5, "Local mode: failed logins allowed per username and client address (server-wide) before a wait.")
    auth_lockout_seconds: int = _setting(60, "Local mode: wait after too many failed logins.")
    clerk_jwt_key: str = _setting("", "Clerk mode: PEM public key that verifies session tokens (networkless).", True)
    clerk_jwks_url: str = _setting("", "Clerk mode: JWKS endpoint of the Clerk Frontend API (if no PEM key).")
    clerk_issuer: str = _setting("", "Clerk mode: required 'iss' (the Frontend API URL), checked when set.")
    clerk_authorized_parties: str = _setting("", "Clerk mode: comma-separated allowed 'azp' origins, checked when set.")
    clerk_leeway_seconds: float = _setting(5.0, "Clerk mode: clock leeway for 'exp'/'nbf'.")
    clerk_sign_in_url: str = _setting("", "Clerk mode: where the sign-in screen sends people.")
    clerk_header: str = _setting("Authorization", "Clerk mode: request header a proxy sets to 'Bearer <token>'.")
    cache_ttl_seconds: int = _setting(
        300, "Seconds a cached query result may stay in memory; any writer's change refreshes it on the next render.")
    live_refresh_seconds: float = _setting(
        5.0, "Tests and Stats screens: seconds between checks for new or updated test calls (0 turns it off).")
    pricing_url: str = _setting("", "Billing: pricing page shown to users without a subscription.")
    billing_portal_url: str = _setting("", "Billing: Stripe customer-portal URL for 'Manage billing'.")
    support_url: str = _setting("", "Billing: where users ask for help (a contact page) when a billing link is unset.")
    support_email: str = _setting("", "Billing: support address shown when SUPPORT_URL is unset.")

    def __post_init__(self) -> None:
        if bool(self.supabase_url) != bool(self.supabase_key) or bool(self.supabase_url) != bool(self.supabase_jwt_secret):
            raise ConfigError("Set SUPABASE_URL, SUPABASE_KEY and SUPABASE_JWT_SECRET together to use the Supabase REST "
                              "backend.")
        if self.supabase_url and self.database_url:
            raise ConfigError("Set either DATABASE_URL or SUPABASE_URL/SUPABASE_KEY, not both.")
        if self.api_requests_per_minute < 1:
            raise ConfigError("API_REQUESTS_PER_MINUTE must be at least 1.")
        if self.export_timeout_seconds <= 0 or self.export_concurrency < 1:
            raise ConfigError("EXPORT_TIMEOUT_SECONDS must be positive and EXPORT_CONCURRENCY at least 1.")
        for name in ("pricing_url", "billing_portal_url", "support_url"):
            if getattr(self, name) and not re.match(r"https?://[^\s/]+", getattr(self, name)):
                raise ConfigError(f"{name.upper()} must be a full http(s):// address.")
        if self.support_email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", self.support_email):
            raise ConfigError("SUPPORT_EMAIL must be an email address such as support@example.com.")
        if self.auth_mode not in ("local", "clerk"):
            raise ConfigError("AUTH_MODE must be 'local' or 'clerk'.")
        if self.auth_mode == "clerk" and not (self.clerk_jwt_key or self.clerk_jwks_url):
            raise ConfigError("AUTH_MODE=clerk needs CLERK_JWT_KEY or CLERK_JWKS_URL.")

    def __repr__(self) -> str:
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.metadata.get("secret") and value:
                value = "***"
            shown.append(f"{f.name}={value!r}")
        return f"Settings({', '.join(shown)})"

    __str__ = __repr__

    @property
    def backend(self) -> str:
        return "supabase" if self.supabase_url else "postgresql"

    @property
    def authorized_parties(self) -> tuple[str, ...]:
        return tuple(p.strip() for p in self.clerk_authorized_parties.split(",") if p.strip())

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, secrets: Mapping[str, Any] | None = None) -> Settings:
        """Settings from ``secrets`` (secrets.toml keys, same names as the env vars) over the environment."""
        env = os.environ if env is None else env
        secrets = secrets or {}
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = f.name.upper()
            raw = secrets.get(name, env.get(name))
            if raw is None or raw == "":
                continue
            try:
                values[f.name] = type(f.default)(raw) if not isinstance(f.default, str) else str(raw)
            except (TypeError, ValueError):
                raise ConfigError(f"Setting {name} must be a {type(f.default).__name__}.") from None
        return cls(**values)


def setting_names() -> list[str]:
    return [f.name.upper() for f in fields(Settings)]


def setting_help() -> dict[str, str]:
    return {f.name.upper(): f.metadata["help"] for f in fields(Settings)}
