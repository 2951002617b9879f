"""Supabase's database advisors (the splinter lints) report nothing at WARN or ERROR on the migrated schema.

The lints that matter for this schema, rewritten here as plain SQL over the catalogs after
https://github.com/supabase/splinter (lints/00NN_*.sql): row-level security (0007, 0013, 0024),
policies that would re-evaluate auth.jwt() per row by their text (0003), several permissive
policies (0006), duplicate indexes (0009), functions without a fixed search_path (0011), and what
anon and authenticated can reach through the API: SECURITY DEFINER views (0010) and functions
(0028, 0029).  They run against a database set up as a Supabase project is (default privileges
included, tests/supabase_like.py), so a table or function added by a later migration is checked too.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from tests.supabase_like import supabase_like_database
from tools.pgcluster import libpq_url

EXPOSED = ["public"]  # PostgREST's db_schemas on Supabase
# Schemas that are Supabase's or PostgreSQL's own (splinter skips them); the shim's auth is one.
SYSTEM = ["auth", "extensions", "graphql", "graphql_public", "information_schema", "pg_catalog", "pg_toast",
          "realtime", "storage", "supabase_functions", "supabase_migrations", "vault", "net", "pgsodium", "cron"]

AUTH_FUNCTIONS = ["auth.uid()", "auth.jwt()", "auth.role()", "auth.email()"]

# name -> (level, query returning one text per finding); parameters: %(exposed)s, %(system)s, %(auth_fns)s
LINTS: dict[str, tuple[str, str]] = {
    "auth_rls_initplan": ("WARN", """
        select format('%%I.%%I policy %%I', p.schemaname, p.tablename, p.policyname)
        from pg_catalog.pg_policies p
        join pg_catalog.pg_namespace n on n.nspname = p.schemaname
        join pg_catalog.pg_class c on c.relnamespace = n.oid and c.relname = p.tablename
        where c.relrowsecurity and p.schemaname <> all(%(system)s)
          and exists (
              select 1 from unnest(array[coalesce(p.qual, ''), coalesce(p.with_check, '')]) e(expr),
                            unnest(%(auth_fns)s::text[]) f(fn)
              where (strpos(e.expr, f.fn) > 0 and strpos(lower(e.expr), 'select ' || f.fn) = 0)
                 or (e.expr like '%%current\\_setting(%%)%%'
                     and lower(e.expr) not like '%%select current\\_setting(%%)%%'))
    """),
    "multiple_permissive_policies": ("WARN", """
        select format('%%I.%%I role %%s action %%s', n.nspname, c.relname, r.rolname, a.cmd)
        from pg_catalog.pg_policy p
        join pg_catalog.pg_class c on c.oid = p.polrelid and c.relkind = 'r'
        join pg_catalog.pg_namespace n on n.oid = c.relnamespace
        join pg_catalog.pg_roles r on p.polroles @> array[r.oid] or p.polroles = array[0::oid]
        cross join lateral unnest(case p.polcmd when 'r' then array['SELECT'] when 'a' then array['INSERT']
                                               when 'w' then array['UPDATE'] when 'd' then array['DELETE']
                                               else array['SELECT', 'INSERT', 'UPDATE', 'DELETE'] end) a(cmd)
        where p.polpermissive and n.nspname <> all(%(system)s)
          and r.rolname not like 'pg\\_%%' and not r.rolbypassrls
        group by n.nspname, c.relname, r.rolname, a.cmd
        having count(*) > 1
    """),
    "policy_exists_rls_disabled": ("ERROR", """
        select distinct format('%%I.%%I', n.nspname, c.relname)
        from pg_catalog.pg_policy p
        join pg_catalog.pg_class c on c.oid = p.polrelid and c.relkind = 'r'
        join pg_catalog.pg_namespace n on n.oid = c.relnamespace
        where not c.relrowsecurity and n.nspname <> all(%(system)s)
    """),
    "duplicate_index": ("WARN", """
        select format('%%I.%%I: %%s', i.schemaname, i.tablename, string_agg(i.indexname, ', ' order by i.indexname))
        from pg_catalog.pg_indexes i
        where i.schemaname <> all(%(system)s)
        group by i.schemaname, i.tablename, replace(i.indexdef, i.indexname, '')
        having count(*) > 1
    """),
    "security_definer_view": ("ERROR", """
        select format('%%I.%%I', n.nspname, c.relname)
        from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
        where c.relkind = 'v' and n.nspname = any(%(exposed)s)
          and (pg_catalog.has_table_privilege('anon', c.oid, 'SELECT')
               or pg_catalog.has_table_privilege('authenticated', c.oid, 'SELECT'))
          and not coalesce(lower(c.reloptions::text)::text[], '{}')
                  && array['security_invoker=1', 'security_invoker=true', 'security_invoker=yes', 'security_invoker=on']
    """),
    "function_search_path_mutable": ("WARN", """
        select format('%%I.%%I(%%s)', n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid))
        from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
        where n.nspname <> all(%(system)s) and n.nspname not like 'pg\\_%%'
          and not exists (select 1 from pg_catalog.pg_depend d where d.objid = p.oid and d.deptype = 'e')
          and not exists (select 1 from unnest(coalesce(p.proconfig, '{}')) cfg where cfg like 'search\\_path=%%')
    """),
    "rls_disabled_in_public": ("ERROR", """
        select format('%%I.%%I', n.nspname, c.relname)
        from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
        where c.relkind = 'r' and not c.relrowsecurity and n.nspname = any(%(exposed)s)
          and (pg_catalog.has_table_privilege('anon', c.oid, 'SELECT')
               or pg_catalog.has_table_privilege('authenticated', c.oid, 'SELECT'))
    """),
    "rls_policy_always_true": ("WARN", """
        select format('%%I.%%I policy %%I', p.schemaname, p.tablename, p.policyname)
        from pg_catalog.pg_policies p
        join pg_catalog.pg_namespace n on n.nspname = p.schemaname
        join pg_catalog.pg_class c on c.relnamespace = n.oid and c.relname = p.tablename and c.relkind = 'r'
        cross join lateral (select regexp_replace(lower(coalesce(p.qual, '')), '\\s', '', 'g') as q,
                                   regexp_replace(lower(coalesce(p.with_check, '')), '\\s', '', 'g') as w) x
        where c.relrowsecurity and p.permissive = 'PERMISSIVE' and p.schemaname <> all(%(system)s)
          and (p.roles && array['public', 'anon', 'authenticated']::name[])
          and ((p.cmd in ('UPDATE', 'DELETE', 'ALL') and (x.q in ('true', '(true)', '1=1', '(1=1)') or p.qual is null))
               or x.w in ('true', '(true)', '1=1', '(1=1)')
               or (p.with_check is null and p.cmd = 'INSERT')
               or (p.with_check is null and p.cmd in ('UPDATE', 'ALL') and x.q in ('true', '(true)', '1=1', '(1=1)')))
    """),
    "anon_security_definer_function_executable": ("WARN", """
        select format('%%I.%%I(%%s)', n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid))
        from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
        where p.prosecdef and n.nspname = any(%(exposed)s)
          and pg_catalog.has_function_privilege('anon', p.oid, 'EXECUTE')
    """),
    "authenticated_security_definer_function_executable": ("WARN", """
        select format('%%I.%%I(%%s)', n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid))
        from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
        where p.prosecdef and n.nspname = any(%(exposed)s)
          and pg_catalog.has_function_privilege('authenticated', p.oid, 'EXECUTE')
    """),
}


def run_lints(conn: psycopg.Connection) -> dict[str, list[str]]:
    """Every lint's findings, by lint name (empty lists left out)."""
    params = {"exposed": EXPOSED, "system": SYSTEM, "auth_fns": AUTH_FUNCTIONS}
    found: dict[str, list[str]] = {}
    for name, (_level, sql) in LINTS.items():
        rows = [r[0] for r in conn.execute(sql, params).fetchall()]
        if rows:
            found[name] = sorted(rows)
    return found


@pytest.fixture(scope="module")
def supabase_db(pg_url: str) -> Iterator[psycopg.Connection]:
    with supabase_like_database(pg_url) as url, psycopg.connect(libpq_url(url)) as conn:
        yield conn


def test_the_advisors_report_nothing_at_warn_or_error(supabase_db: psycopg.Connection) -> None:
    assert run_lints(supabase_db) == {}


def test_the_migrated_schema_has_what_the_lints_look_at(supabase_db: psycopg.Connection) -> None:
    """Guards against an empty pass: the lints saw policies, SECURITY DEFINER functions and indexes."""
    one = supabase_db.execute
    assert one("select count(*) from pg_policies where schemaname = 'public'").fetchone()[0] >= 9
    assert one("select count(*) from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
               "where n.nspname = 'public' and p.prosecdef").fetchone()[0] >= 5
    assert one("select count(*) from pg_indexes where schemaname = 'public'").fetchone()[0] >= 10


@pytest.mark.parametrize("policy, flagged", [
    ("(select auth.jwt() ->> 'sub') = user_id", True),  # the first migration's form: an InitPlan, but flagged
    ("auth.jwt() ->> 'sub' = user_id", True),  # evaluated per row
    ("user_id = ((select auth.jwt()) ->> 'sub')", False),  # the lint-clean form the migrations now use
])
def test_the_initplan_lint_reads_policy_text_as_supabase_does(supabase_db: psycopg.Connection, policy: str,
                                                              flagged: bool) -> None:
    with supabase_db.transaction(force_rollback=True):
        supabase_db.execute("create table public.lint_probe (user_id text not null)")
        supabase_db.execute("alter table public.lint_probe enable row level security")
        supabase_db.execute(f"create policy lint_probe_owner on public.lint_probe for all to authenticated "
                            f"using ({policy}) with check ({policy})")
        found = run_lints(supabase_db).get("auth_rls_initplan", [])
    assert (found == ["public.lint_probe policy lint_probe_owner"]) is flagged


def test_the_security_lints_catch_what_they_are_for(supabase_db: psycopg.Connection) -> None:
    """A table without RLS, a function without search_path and an exposed SECURITY DEFINER function,
    as Supabase's default privileges would leave them, are each reported."""
    with supabase_db.transaction(force_rollback=True):
        supabase_db.execute("create table public.lint_open (id int)")
        supabase_db.execute("create function public.lint_mutable() returns int language sql as 'select 1'")
        supabase_db.execute("create function public.lint_definer() returns int language sql security definer "
                            "set search_path = '' as 'select 1'")
        found = run_lints(supabase_db)
    assert found == {
        "rls_disabled_in_public": ["public.lint_open"],
        "function_search_path_mutable": ["public.lint_mutable()"],
        "anon_security_definer_function_executable": ["public.lint_definer()"],
        "authenticated_security_definer_function_executable": ["public.lint_definer()"],
    }
