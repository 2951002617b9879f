"""Operator commands, run against the database directly (never through the dashboard).

``python -m lib.ops.admin orphans`` counts the rows that existed before ``user_id`` was added: the schema
reference's migration notes say they hold ``user_id = ''`` and must be assigned or deleted.  The
dashboard can never reach them (a user id is never empty: ``lib.validation.validate_user_id``).

    python -m lib.ops.admin orphans                              # count per table
    python -m lib.ops.admin orphans --assign-to user_2abc --yes  # give them to one user
    python -m lib.ops.admin orphans --delete --yes               # delete them
    python -m lib.ops.admin orphans --delete --table intents     # dry run, one table

A fix runs in one transaction.  Without ``--yes`` it is a dry run: the same statements run (so a
conflict, such as a user who already has a subscription, shows up) and are then rolled back.  The
trigger-kept tables (daily rollups, change versions) follow the calls by themselves.
Exit status: 0 done (or nothing to do), 1 refused or failed, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence

import psycopg

from lib.errors import ConfigError

# The user's own tables; the rollups and change versions follow assistant_tests by trigger.
TABLES = ("subscriptions", "intents", "assistant_settings", "assistants", "assistant_tests")
CLERK_USER_ID = re.compile(r"user_[A-Za-z0-9_]{1,250}")  # the whole value (fullmatch: no trailing newline)
ORPHAN = ""


class Refused(Exception):
    """The fix would break a rule (bad user id, a unique key already taken): nothing was changed."""


def _one(conn: psycopg.Connection, query: str, params: dict[str, str]) -> int:
    return conn.execute(query, params).fetchone()[0]  # type: ignore[index]


def count_orphans(conn: psycopg.Connection, tables: Sequence[str] = TABLES) -> dict[str, int]:
    return {t: _one(conn, f"select count(*) from public.{t} where user_id = %(o)s", {"o": ORPHAN}) for t in tables}


def _taken(conn: psycopg.Connection, table: str, user_id: str) -> str | None:
    """Why the user cannot take ``table``'s orphans, or None: one subscription and one settings row per
    user, and one assistant per (user, Vapi id)."""
    if table in ("subscriptions", "assistant_settings"):
        mine = _one(conn, f"select count(*) from public.{table} where user_id = %(u)s", {"u": user_id})
        theirs = _one(conn, f"select count(*) from public.{table} where user_id = %(o)s", {"o": ORPHAN})
        if theirs and (mine or theirs > 1):
            return (f"{table}: a user has at most one row, and {user_id} would have {mine + theirs}; "
                    f"delete those orphans instead (--delete --table {table})")
    if table == "assistants":
        clash = _one(conn, "select count(*) from public.assistants a join public.assistants b "
                           "on a.vapi_assistant_id = b.vapi_assistant_id where a.user_id = %(o)s and b.user_id = %(u)s",
                     {"o": ORPHAN, "u": user_id})
        if clash:
            return (f"assistants: {clash} orphan assistant(s) carry a Vapi id {user_id} already has; "
                    "delete those orphans instead (--delete --table assistants)")
    return None


def _split(conn: psycopg.Connection, tables: Sequence[str]) -> str | None:
    """Why assigning only some of the tables would leave an assistant pointing at another user's intent, or None:
    orphan assistants that use orphan intents move together with them, or not at all."""
    if ("intents" in tables) == ("assistants" in tables):
        return None
    linked = _one(conn, "select count(*) from public.assistants a where a.user_id = %(o)s and exists "
                        "(select 1 from public.intents i where i.user_id = %(o)s and i.id = any(a.intents_used))",
                  {"o": ORPHAN})
    if not linked:
        return None
    return (f"intents and assistants: {linked} orphan assistant(s) use orphan intents, and assigning only one of "
            "the two tables would leave them pointing at another user's intents; give both (--table intents "
            "--table assistants), or delete the orphans of one first")


def fix_orphans(conninfo: str, *, assign_to: str | None, tables: Sequence[str], commit: bool) -> dict[str, int]:
    """Assign (``assign_to``) or delete the orphans of ``tables`` in one transaction; rows touched per
    table.  Rolled back unless ``commit``.  ``Refused`` if the fix would break a rule."""
    if assign_to is not None and not CLERK_USER_ID.fullmatch(assign_to):
        raise Refused(f"{assign_to!r} is not a Clerk user id (user_ followed by letters, digits or _).")
    with _connect(conninfo) as conn:
        try:
            if assign_to is not None:
                problems = [p for t in tables if (p := _taken(conn, t, assign_to))]
                if split := _split(conn, tables):
                    problems.append(split)
                if problems:
                    raise Refused("Nothing was changed:\n" + "\n".join(f"  - {p}" for p in problems))
            done = {}
            # assistants before intents: an intent that moves to another user leaves its old user's assistants
            # (trigger intents_follow_id), so assistants that move along must have moved first
            for table in sorted(tables, key=lambda t: t != "assistants"):
                if assign_to is None:
                    cur = conn.execute(f"delete from public.{table} where user_id = %(o)s", {"o": ORPHAN})
                else:
                    cur = conn.execute(f"update public.{table} set user_id = %(u)s where user_id = %(o)s",
                                       {"o": ORPHAN, "u": assign_to})
                done[table] = cur.rowcount
            done = {t: done[t] for t in tables}
            if commit:
                conn.commit()
            else:
                conn.rollback()
            return done
        except BaseException:
            conn.rollback()
            raise


def _connect(conninfo: str) -> psycopg.Connection:
    """An owner connection (one transaction until commit or rollback), without a statement timeout."""
    return psycopg.connect(conninfo.replace("postgresql+psycopg://", "postgresql://", 1),
                           options="-c statement_timeout=0")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lib.ops.admin", description="Operator commands.")
    commands = parser.add_subparsers(dest="command", required=True)
    orphans = commands.add_parser("orphans", help="rows with an empty user_id: count, assign or delete them")
    action = orphans.add_mutually_exclusive_group()
    action.add_argument("--assign-to", metavar="USER_ID", help="give every orphan row to this Clerk user id")
    action.add_argument("--delete", action="store_true", help="delete every orphan row")
    orphans.add_argument("--table", action="append", choices=TABLES,
                         help="only this table (repeatable); default: all of them")
    orphans.add_argument("--yes", action="store_true", help="apply the fix (without it: a dry run, rolled back)")
    orphans.add_argument("--database-url", help="PostgreSQL URL (default: DATABASE_URL, as the dashboard uses; "
                         "unset: the embedded server under data/pg)")
    return parser


def _database_url(given: str | None) -> str:
    if given:
        return given
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    if os.environ.get("SUPABASE_URL"):
        raise ConfigError("This command talks SQL: set DATABASE_URL (or --database-url) to the Supabase "
                          "project's connection string; the REST key cannot run it.")
    from lib.ops.embedded import database_url

    return database_url(seed=False)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    tables = tuple(t for t in TABLES if not args.table or t in args.table)
    try:
        url = _database_url(args.database_url)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 1
    try:
        with _connect(url) as conn:
            counts = count_orphans(conn, tables)
    except psycopg.Error as err:
        print(f"Cannot read the tables ({type(err).__name__}): is this the dashboard's database?", file=sys.stderr)
        return 1
    width = max(map(len, tables))
    print("Rows with an empty user_id:")
    for table, n in counts.items():
        print(f"  {table:<{width}}  {n:>9,}")
    if args.assign_to is None and not args.delete:
        return 0
    if not any(counts.values()):
        print("Nothing to fix.")
        return 0
    verb = f"assigned to {args.assign_to}" if args.assign_to is not None else "deleted"
    try:
        done = fix_orphans(url, assign_to=args.assign_to, tables=tables, commit=args.yes)
    except Refused as err:
        print(err, file=sys.stderr)
        return 1
    except psycopg.Error as err:
        why = f": {err.diag.message_primary}" if err.sqlstate == "23505" and err.diag.message_primary else ""
        print(f"Nothing was changed: the database refused the fix ({type(err).__name__}{why}).", file=sys.stderr)
        return 1
    total = sum(done.values())
    if args.yes:
        print(f"Done in one transaction: {total:,} rows {verb}.")
    else:
        print(f"Dry run: {total:,} rows would be {verb} (rolled back). Add --yes to apply.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
