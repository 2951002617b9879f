"""SQLAlchemy Core tables mirroring supabase/migrations (one SQL code path for SQLite and PostgreSQL).

PostgreSQL gets the real types (uuid, text[], jsonb); SQLite stores arrays and JSONB as JSON text,
uuids as strings, so every value round-trips the same way on both.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

metadata = sa.MetaData()

Uuid = sa.Uuid(as_uuid=False)
TextArray = postgresql.ARRAY(sa.Text).with_variant(sa.JSON(), "sqlite")
UuidArray = postgresql.ARRAY(sa.Uuid(as_uuid=False)).with_variant(sa.JSON(), "sqlite")
Jsonb = postgresql.JSONB().with_variant(sa.JSON(), "sqlite")



def _now() -> sa.TextClause:
    # server defaults are only used when the SQLite file is created from this metadata
    return sa.text("CURRENT_TIMESTAMP")


subscriptions = sa.Table(
    "subscriptions",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("user_id", sa.String(255), nullable=False, unique=True),
    sa.Column("stripe_customer_id", sa.String(255)),
    sa.Column("stripe_subscription_id", sa.String(255)),
    sa.Column("status", sa.String(50)),
    sa.Column("plan_type", sa.String(20)),
    sa.Column("billing_cycle", sa.String(10)),
    sa.Column("current_period_start", sa.DateTime),
    sa.Column("current_period_end", sa.DateTime),
    sa.Column("created_at", sa.DateTime, server_default=_now()),
    sa.Column("updated_at", sa.DateTime, server_default=_now()),
    sa.Index("idx_subscriptions_user_id", "user_id"),
)

intents = sa.Table(
    "intents",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("user_id", sa.String(255), nullable=False),
    sa.Column("intent_name", sa.Text, nullable=False),
    sa.Column("example_user_phrases", TextArray, nullable=False),
    sa.Column("english_responses", TextArray, nullable=False),
    sa.Column("russian_responses", TextArray, nullable=False),
    sa.Column("created_at", sa.DateTime, server_default=_now()),
    sa.Column("updated_at", sa.DateTime, server_default=_now()),
    sa.Index("idx_intents_user_id", "user_id"),
    sa.Index("idx_intents_user_created", "user_id", sa.text("created_at DESC")),
)

assistant_settings = sa.Table(
    "assistant_settings",
    metadata,
    sa.Column("user_id", sa.String(255), nullable=False),
    sa.Column("is_active", sa.Boolean, server_default=sa.true()),
    sa.Column("created_at", sa.DateTime, server_default=_now()),
    sa.Column("updated_at", sa.DateTime, server_default=_now()),
    sa.PrimaryKeyConstraint("user_id", name="idx_assistant_settings_user_id"),
)

assistants = sa.Table(
    "assistants",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("user_id", sa.String(255), nullable=False),
    sa.Column("vapi_assistant_id", sa.String(255), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("config", Jsonb, nullable=False),
    sa.Column("intents_used", UuidArray, nullable=False),
    sa.Column("created_at", sa.DateTime, server_default=_now()),
    sa.Column("updated_at", sa.DateTime, server_default=_now()),
    sa.UniqueConstraint("user_id", "vapi_assistant_id"),
    sa.Index("idx_assistants_user_id", "user_id"),
    sa.Index("idx_assistants_user_created", "user_id", "created_at"),
)

assistant_tests = sa.Table(
    "assistant_tests",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("user_id", sa.String(255), nullable=False),
    sa.Column("assistant_id", sa.String(255), nullable=False),
    sa.Column("test_phrase", sa.Text, nullable=False),
    sa.Column("language", sa.String(50), server_default="english"),
    sa.Column("call_id", sa.String(255)),
    sa.Column("status", sa.String(50), server_default="initiated"),
    sa.Column("created_at", sa.DateTime, server_default=_now()),
    sa.Column("updated_at", sa.DateTime, server_default=_now()),
    sa.Index("idx_assistant_tests_user_id", "user_id"),
    sa.Index("idx_assistant_tests_user_created", "user_id", "created_at"),
    sa.Index("idx_assistant_tests_user_assistant_created", "user_id", "assistant_id", "created_at"),
)

# Daily rollups of assistant_tests, kept by triggers (the migration's for PostgreSQL, SQLITE_TRIGGERS
# below for SQLite): the screens count from them.  NO_DAY stands for a null created_at; '' for a null
# language or status.  ROLLUPS maps each to its key columns, the widest first.
def _rollup(name: str, *keys: str) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        *(sa.Column(k, sa.String(255 if k == "assistant_id" else 50), nullable=False) for k in keys),
        sa.Column("tests", sa.BigInteger, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("user_id", "day", *keys, name=f"{name}_pkey"),
        sqlite_with_rowid=False,  # rows clustered by user and day: a date range is one contiguous read
    )


assistant_test_daily = _rollup("assistant_test_daily", "assistant_id", "language", "status")
assistant_test_daily_status = _rollup("assistant_test_daily_status", "language", "status")
assistant_test_daily_assistant = _rollup("assistant_test_daily_assistant", "assistant_id")
ROLLUPS = (assistant_test_daily, assistant_test_daily_status, assistant_test_daily_assistant)
NO_DAY = date(1, 1, 1)

# The intents' edit history (migration 20261127130000): one record per save of the grid, import or undo,
# written in the save's transaction; append-only for users.  changes: [{id, before, after}], where before
# and after are the intent's values (lib.store.history.values) or null (added / deleted).
intent_history = sa.Table(
    "intent_history",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("user_id", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False, server_default=_now()),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("reverts", Uuid, sa.ForeignKey("intent_history.id")),
    sa.Column("changes", Jsonb, nullable=False),
    sa.CheckConstraint("kind in ('grid', 'import', 'undo')", name="intent_history_kind_check"),
    sa.CheckConstraint("(kind = 'undo') = (reverts is not null)", name="intent_history_undo_check"),
    sa.Index("idx_intent_history_user_created", "user_id", sa.text("created_at DESC")),
    sa.Index("idx_intent_history_reverts", "reverts", unique=True),
)

USER_TABLES = (subscriptions, intents, assistant_settings, assistants, assistant_tests)  # the reference's five
VERSIONED = (*USER_TABLES, intent_history)  # tables whose writes advance a change version

# Per-user change versions (migration 20261127100000): every write to a user table advances the
# (user, table) version, whoever writes; the cached query helper keys its results on them.
user_data_versions = sa.Table(
    "user_data_versions",
    metadata,
    sa.Column("user_id", sa.String(255), nullable=False),
    sa.Column("topic", sa.String(63), nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.PrimaryKeyConstraint("user_id", "topic", name="user_data_versions_pkey"),
    sqlite_with_rowid=False,
)
ALL_TABLES = (*VERSIONED, *ROLLUPS, user_data_versions)


def _sqlite_triggers() -> tuple[str, ...]:
    values = {"user_id": "{r}.user_id", "day": "coalesce(date({r}.created_at), '0001-01-01')",
              "assistant_id": "{r}.assistant_id", "language": "coalesce({r}.language, '')",
              "status": "coalesce({r}.status, '')"}
    add, sub = [], []
    for table in ROLLUPS:
        keys = [c.name for c in table.primary_key.columns]
        new = ", ".join(values[k].format(r="NEW") for k in keys)
        match = " AND ".join(f"{k} = {values[k].format(r='OLD')}" for k in keys)
        add.append(f"INSERT INTO {table.name} ({', '.join(keys)}, tests) VALUES ({new}, 1) "
                   f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET tests = tests + 1;")
        sub.append(f"UPDATE {table.name} SET tests = tests - 1 WHERE {match};")
    add_all, sub_all = " ".join(add), " ".join(sub)
    return (
        f"CREATE TRIGGER IF NOT EXISTS assistant_tests_daily_insert AFTER INSERT ON assistant_tests BEGIN {add_all} END",
        f"CREATE TRIGGER IF NOT EXISTS assistant_tests_daily_delete AFTER DELETE ON assistant_tests BEGIN {sub_all} END",
        "CREATE TRIGGER IF NOT EXISTS assistant_tests_daily_update AFTER UPDATE OF user_id, assistant_id, language, "
        f"status, created_at ON assistant_tests BEGIN {sub_all} {add_all} END",
    )


def _sqlite_version_triggers() -> tuple[str, ...]:
    """The same versions as PostgreSQL's statement triggers, kept row by row (SQLite has only row
    triggers and one writer at a time; its DELETE without WHERE is the TRUNCATE)."""
    def bump(table: str, row: str, when: str = "true") -> str:
        return (f"INSERT INTO user_data_versions (user_id, topic, version) SELECT {row}.user_id, '{table}', 1 "
                f"WHERE {when} ON CONFLICT (user_id, topic) DO UPDATE SET version = version + 1;")

    ddl = []
    for t in VERSIONED:
        ddl += [
            f"CREATE TRIGGER IF NOT EXISTS {t.name}_version_insert AFTER INSERT ON {t.name} BEGIN {bump(t.name, 'NEW')} END",
            f"CREATE TRIGGER IF NOT EXISTS {t.name}_version_delete AFTER DELETE ON {t.name} BEGIN {bump(t.name, 'OLD')} END",
            f"CREATE TRIGGER IF NOT EXISTS {t.name}_version_update AFTER UPDATE ON {t.name} BEGIN "
            f"{bump(t.name, 'OLD')} {bump(t.name, 'NEW', 'NEW.user_id IS NOT OLD.user_id')} END",
        ]
    return tuple(ddl)


def _sqlite_history_triggers() -> tuple[str, ...]:
    """As the migration's: a deleted intent's id leaves its user's assistants' intents_used (a JSON array
    of ids with dashes, while SQLAlchemy keeps the uuid column as 32 hex digits), and the history is
    append-only (an update is refused)."""
    def hex_id(expr: str) -> str:
        return f"lower(replace({expr}, '-', ''))"

    return (
        "CREATE TRIGGER IF NOT EXISTS intents_forget_deleted AFTER DELETE ON intents BEGIN "
        "UPDATE assistants SET intents_used = (SELECT json_group_array(u.value) FROM (SELECT j.value FROM "
        f"json_each(assistants.intents_used) j WHERE {hex_id('j.value')} <> {hex_id('OLD.id')} ORDER BY j.key) u), "
        "updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now') || '000' "
        "WHERE user_id = OLD.user_id AND EXISTS (SELECT 1 FROM json_each(assistants.intents_used) j "
        f"WHERE {hex_id('j.value')} = {hex_id('OLD.id')}); END",
        "CREATE TRIGGER IF NOT EXISTS intent_history_append_only BEFORE UPDATE ON intent_history BEGIN "
        "SELECT RAISE(ABORT, 'intent_history is append-only'); END",
    )


SQLITE_TRIGGERS = _sqlite_triggers() + _sqlite_version_triggers() + _sqlite_history_triggers()


def create_sqlite(engine: sa.Engine) -> None:
    """The embedded database's tables, indexes and rollup triggers (idempotent)."""
    metadata.create_all(engine)
    with engine.begin() as conn:
        for ddl in SQLITE_TRIGGERS:
            conn.exec_driver_sql(ddl)
