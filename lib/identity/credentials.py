"""Local accounts: the credentials file (bcrypt hashes, each account's user id), its demo version,
validation and loading."""

from __future__ import annotations

import copy
import logging
import os
import re
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import bcrypt
import yaml

from lib.errors import ConfigError

log = logging.getLogger(__name__)

DEMO_PASSWORD = "demo"
DEMO_ACCOUNTS: tuple[tuple[str, str, str], ...] = (
    ("alice", "Alice", "user_demo_alice"),
    ("bob", "Bob", "user_demo_bob"),
    ("carol", "Carol", "user_demo_carol"),
)
_BCRYPT_HASH = re.compile(r"^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$")
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@+-]{0,63}$")


def is_bcrypt_hash(value: object) -> bool:
    return isinstance(value, str) and bool(_BCRYPT_HASH.match(value))


def hash_password(password: str, rounds: int = 12) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()


@lru_cache(maxsize=1)
def _dummy_hash() -> bytes:
    return bcrypt.hashpw(b"no such account", bcrypt.gensalt(12))


def dummy_password_check(password: str) -> None:
    """Spend the time of a real check, so an unknown username answers as slowly as a known one."""
    bcrypt.checkpw((password or "").encode(), _dummy_hash())


@dataclass(frozen=True)
class Account:
    username: str
    name: str
    user_id: str  # the Clerk-style id the account's data belongs to
    password_hash: str = field(repr=False)
    email: str | None = None


@dataclass(frozen=True)
class Credentials:
    """The accounts of a credentials file; ``demo`` marks the generated demo file."""

    accounts: Mapping[str, Account]
    demo: bool = False

    def account(self, username: str | None) -> Account | None:
        if not isinstance(username, str):
            return None
        return self.accounts.get(username.strip().lower())

    def user_id_for(self, username: str | None) -> str | None:
        account = self.account(username)
        return account.user_id if account else None

    def for_authenticator(self) -> dict[str, Any]:
        """A fresh credentials dict in streamlit-authenticator's shape (the library mutates it)."""
        users: dict[str, Any] = {}
        for account in self.accounts.values():
            entry: dict[str, Any] = {"name": account.name, "password": account.password_hash}
            if account.email:
                entry["email"] = account.email
            users[account.username] = entry
        return {"usernames": copy.deepcopy(users)}


_FILE_HEADER = """\
# Voice Assistant Dashboard: local sign-in accounts (streamlit-authenticator format).
# Passwords are bcrypt hashes, never plain text. Each account's user_id is the Clerk-style id
# its data belongs to. "demo: true" shows the demo-account hint on the sign-in screen:
# delete it (and the demo accounts) before using this file for anything but a demo.
"""


def demo_credentials_document(rounds: int = 12) -> dict[str, Any]:
    users = {
        username: {"name": name, "password": hash_password(DEMO_PASSWORD, rounds), "user_id": user_id}
        for username, name, user_id in DEMO_ACCOUNTS
    }
    return {"demo": True, "credentials": {"usernames": users}}


def write_credentials_file(path: str | os.PathLike[str], document: Mapping[str, Any]) -> None:
    """Write atomically, readable by the owner only."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".credentials-", suffix=".yaml", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(_FILE_HEADER)
            yaml.safe_dump(dict(document), handle, sort_keys=False, allow_unicode=True)
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def ensure_credentials_file(path: str | os.PathLike[str]) -> bool:
    """Create the demo credentials file if there is none; True when it was created."""
    target = Path(path)
    if target.exists():
        return False
    log.warning("No credentials file at %s: writing the demo accounts (alice, bob, carol)", target)
    write_credentials_file(target, demo_credentials_document())
    return True


def parse_credentials(document: Any, source: str = "the credentials file") -> Credentials:
    """Validate a credentials document; errors name the account and field, never a value."""
    if not isinstance(document, Mapping):
        raise ConfigError(f"{source} is not a YAML mapping.")
    section = document.get("credentials")
    users = section.get("usernames") if isinstance(section, Mapping) else None
    if not isinstance(users, Mapping) or not users:
        raise ConfigError(f"{source} has no accounts under credentials.usernames.")
    accounts: dict[str, Account] = {}
    seen_ids: set[str] = set()
    for raw_name, entry in users.items():
        username = str(raw_name).strip().lower()
        if not _USERNAME.match(username):
            raise ConfigError(f"{source}: account {str(raw_name)[:64]!r} has an invalid username.")
        if username in accounts:
            raise ConfigError(f"{source}: account {username!r} appears twice.")
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{source}: account {username!r} is not a mapping.")
        password = entry.get("password")
        if not is_bcrypt_hash(password):
            raise ConfigError(f"{source}: account {username!r} needs a bcrypt hash as its password (no plain text).")
        user_id = entry.get("user_id")
        if not isinstance(user_id, str) or not user_id.strip():
            raise ConfigError(f"{source}: account {username!r} needs a user_id.")
        if user_id in seen_ids:
            raise ConfigError(f"{source}: account {username!r} repeats another account's user_id.")
        seen_ids.add(user_id)
        name = entry.get("name")
        email = entry.get("email")
        accounts[username] = Account(
            username=username,
            name=str(name).strip() if name else username,
            user_id=user_id.strip(),
            password_hash=password,
            email=str(email) if email else None,
        )
    return Credentials(accounts=accounts, demo=document.get("demo") is True)


_loaded: dict[str, tuple[tuple[int, int], Credentials]] = {}
_loaded_lock = threading.Lock()


def load_credentials(path: str | os.PathLike[str], *, create_demo: bool = True) -> Credentials:
    """The accounts of the credentials file (re-read when the file changes)."""
    target = Path(path)
    with _loaded_lock:
        if create_demo:
            try:
                ensure_credentials_file(target)
            except OSError as err:
                raise ConfigError(f"Cannot create the credentials file {target}: {err.strerror}.") from None
        try:
            stat = target.stat()
        except OSError:
            raise ConfigError(f"No credentials file at {target} (AUTH_CREDENTIALS_PATH).") from None
        stamp = (stat.st_mtime_ns, stat.st_size)
        cached = _loaded.get(str(target))
        if cached and cached[0] == stamp:
            return cached[1]
        try:
            document = yaml.safe_load(target.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            raise ConfigError(f"Cannot read the credentials file {target} (is it valid YAML?).") from None
        credentials = parse_credentials(document, source=f"Credentials file {target}")
        _loaded[str(target)] = (stamp, credentials)
        return credentials

