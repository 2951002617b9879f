-- Per-user change versions kept by the database, and rollup triggers that never deadlock.
--
-- 1. user_data_versions: every insert, update, delete or truncate on the five user tables advances a
--    version for (the row's user, the table), whoever writes it: the dashboard, the web app, a call
--    webhook, psql.  The dashboard keys its caches on these versions, so a write by any writer shows
--    on the next render in every session and every process; an unchanged screen costs one small read.
--    Versions come from one sequence, so a version number is never reused.
-- 2. The rollup triggers of 20261125000000 are replaced (and its function dropped): one statement's calls become one net delta per
--    rollup key (old rows -1, new rows +1, zero deltas dropped), applied one rollup table at a time in
--    a fixed order and, within a table, in key order.  Concurrent writers therefore take the rollup
--    rows' locks in the same order and cannot deadlock, and a status change leaves the per-assistant
--    rollup untouched.  TRUNCATE of assistant_tests empties the rollups.
--
-- On assistant_tests, where call webhooks write all day, the rollup triggers advance the version
-- themselves (one trigger call per statement, not two), after the rollups: every statement locks
-- rollup rows first, then its version row.

create sequence if not exists public.user_data_version_seq;

create table if not exists public.user_data_versions (
    user_id varchar(255) not null,
    topic varchar(63) not null,  -- the table whose rows changed
    version bigint not null,
    constraint user_data_versions_pkey primary key (user_id, topic)
);

alter table public.user_data_versions enable row level security;
drop policy if exists user_data_versions_owner on public.user_data_versions;
-- like the rollups: users may read their own rows (the grants below allow nothing else); only triggers write
create policy user_data_versions_owner on public.user_data_versions as permissive for all to authenticated
    using ((select auth.jwt()) ->> 'sub' = user_id) with check ((select auth.jwt()) ->> 'sub' = user_id);
revoke all on public.user_data_versions from anon, authenticated, service_role;
grant select on public.user_data_versions to authenticated, service_role;
revoke all on sequence public.user_data_version_seq from public, anon, authenticated, service_role;

-- One statement's users, each once and in order, get a new version for the statement's table.
create or replace function public.user_data_versions_bump() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
    if tg_op = 'TRUNCATE' then
        update public.user_data_versions set version = nextval('public.user_data_version_seq')
        where topic = tg_table_name;
    elsif tg_op = 'INSERT' then
        insert into public.user_data_versions as v (user_id, topic, version)
        select u.user_id, tg_table_name, nextval('public.user_data_version_seq')
        from (select distinct user_id from new_rows order by 1) u
        on conflict (user_id, topic) do update set version = excluded.version;
    elsif tg_op = 'DELETE' then
        insert into public.user_data_versions as v (user_id, topic, version)
        select u.user_id, tg_table_name, nextval('public.user_data_version_seq')
        from (select distinct user_id from old_rows order by 1) u
        on conflict (user_id, topic) do update set version = excluded.version;
    else
        insert into public.user_data_versions as v (user_id, topic, version)
        select u.user_id, tg_table_name, nextval('public.user_data_version_seq')
        from (select user_id from old_rows union select user_id from new_rows order by 1) u
        on conflict (user_id, topic) do update set version = excluded.version;
    end if;
    return null;
end
$$;
revoke all on function public.user_data_versions_bump() from public, anon, authenticated;

do $$
declare t text;
begin
    foreach t in array array['subscriptions', 'intents', 'assistant_settings', 'assistants']
    loop
        execute format('drop trigger if exists %I on public.%I', t || '_version_insert', t);
        execute format('drop trigger if exists %I on public.%I', t || '_version_update', t);
        execute format('drop trigger if exists %I on public.%I', t || '_version_delete', t);
        execute format('drop trigger if exists %I on public.%I', t || '_version_truncate', t);
        execute format('create trigger %I after insert on public.%I referencing new table as new_rows '
                       'for each statement execute function public.user_data_versions_bump()', t || '_version_insert', t);
        execute format('create trigger %I after update on public.%I referencing old table as old_rows '
                       'new table as new_rows for each statement execute function public.user_data_versions_bump()',
                       t || '_version_update', t);
        execute format('create trigger %I after delete on public.%I referencing old table as old_rows '
                       'for each statement execute function public.user_data_versions_bump()', t || '_version_delete', t);
        execute format('create trigger %I after truncate on public.%I '
                       'for each statement execute function public.user_data_versions_bump()', t || '_version_truncate', t);
    end loop;
end
$$;

-- The rollups: one net delta per key, one table at a time, keys in order.  Static statements (one
-- function per operation), so each connection plans them once.
create or replace function public.assistant_test_daily_insert() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
    insert into public.assistant_test_daily as d (user_id, day, assistant_id, language, status, tests)
    select user_id, coalesce(created_at::date, date '0001-01-01'), assistant_id, coalesce(language, ''),
           coalesce(status, ''), count(*)
    from new_rows group by 1, 2, 3, 4, 5 order by 1, 2, 3, 4, 5
    on conflict (user_id, day, assistant_id, language, status) do update set tests = d.tests + excluded.tests;
    insert into public.assistant_test_daily_assistant as d (user_id, day, assistant_id, tests)
    select user_id, coalesce(created_at::date, date '0001-01-01'), assistant_id, count(*)
    from new_rows group by 1, 2, 3 order by 1, 2, 3
    on conflict (user_id, day, assistant_id) do update set tests = d.tests + excluded.tests;
    insert into public.assistant_test_daily_status as d (user_id, day, language, status, tests)
    select user_id, coalesce(created_at::date, date '0001-01-01'), coalesce(language, ''), coalesce(status, ''), count(*)
    from new_rows group by 1, 2, 3, 4 order by 1, 2, 3, 4
    on conflict (user_id, day, language, status) do update set tests = d.tests + excluded.tests;
    insert into public.user_data_versions as v (user_id, topic, version)
    select user_id, 'assistant_tests', nextval('public.user_data_version_seq')
    from (select distinct user_id from new_rows order by 1) u
    on conflict (user_id, topic) do update set version = excluded.version;
    return null;
end
$$;

create or replace function public.assistant_test_daily_delete() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
    insert into public.assistant_test_daily as d (user_id, day, assistant_id, language, status, tests)
    select user_id, coalesce(created_at::date, date '0001-01-01'), assistant_id, coalesce(language, ''),
           coalesce(status, ''), -count(*)
    from old_rows group by 1, 2, 3, 4, 5 order by 1, 2, 3, 4, 5
    on conflict (user_id, day, assistant_id, language, status) do update set tests = d.tests + excluded.tests;
    insert into public.assistant_test_daily_assistant as d (user_id, day, assistant_id, tests)
    select user_id, coalesce(created_at::date, date '0001-01-01'), assistant_id, -count(*)
    from old_rows group by 1, 2, 3 order by 1, 2, 3
    on conflict (user_id, day, assistant_id) do update set tests = d.tests + excluded.tests;
    insert into public.assistant_test_daily_status as d (user_id, day, language, status, tests)
    select user_id, coalesce(created_at::date, date '0001-01-01'), coalesce(language, ''), coalesce(status, ''), -count(*)
    from old_rows group by 1, 2, 3, 4 order by 1, 2, 3, 4
    on conflict (user_id, day, language, status) do update set tests = d.tests + excluded.tests;
    insert into public.user_data_versions as v (user_id, topic, version)
    select user_id, 'assistant_tests', nextval('public.user_data_version_seq')
    from (select distinct user_id from old_rows order by 1) u
    on conflict (user_id, topic) do update set version = excluded.version;
    return null;
end
$$;

-- An update moves calls between keys: the net change per key of each rollup, zero changes dropped.
create or replace function public.assistant_test_daily_update() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
    insert into public.assistant_test_daily as d (user_id, day, assistant_id, language, status, tests)
    select user_id, day, assistant_id, language, status, sum(n) from (
        select user_id, coalesce(created_at::date, date '0001-01-01') as day, assistant_id,
               coalesce(language, '') as language, coalesce(status, '') as status, -1 as n from old_rows
        union all
        select user_id, coalesce(created_at::date, date '0001-01-01'), assistant_id, coalesce(language, ''),
               coalesce(status, ''), 1 from new_rows) c
    group by 1, 2, 3, 4, 5 having sum(n) <> 0 order by 1, 2, 3, 4, 5
    on conflict (user_id, day, assistant_id, language, status) do update set tests = d.tests + excluded.tests;
    insert into public.assistant_test_daily_assistant as d (user_id, day, assistant_id, tests)
    select user_id, day, assistant_id, sum(n) from (
        select user_id, coalesce(created_at::date, date '0001-01-01') as day, assistant_id, -1 as n from old_rows
        union all
        select user_id, coalesce(created_at::date, date '0001-01-01'), assistant_id, 1 from new_rows) c
    group by 1, 2, 3 having sum(n) <> 0 order by 1, 2, 3
    on conflict (user_id, day, assistant_id) do update set tests = d.tests + excluded.tests;
    insert into public.assistant_test_daily_status as d (user_id, day, language, status, tests)
    select user_id, day, language, status, sum(n) from (
        select user_id, coalesce(created_at::date, date '0001-01-01') as day, coalesce(language, '') as language,
               coalesce(status, '') as status, -1 as n from old_rows
        union all
        select user_id, coalesce(created_at::date, date '0001-01-01'), coalesce(language, ''), coalesce(status, ''), 1
        from new_rows) c
    group by 1, 2, 3, 4 having sum(n) <> 0 order by 1, 2, 3, 4
    on conflict (user_id, day, language, status) do update set tests = d.tests + excluded.tests;
    insert into public.user_data_versions as v (user_id, topic, version)
    select user_id, 'assistant_tests', nextval('public.user_data_version_seq')
    from (select distinct user_id from (select user_id from old_rows union all select user_id from new_rows) r order by 1) u
    on conflict (user_id, topic) do update set version = excluded.version;
    return null;
end
$$;

create or replace function public.assistant_test_daily_truncate() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
    -- delete, not truncate: the same TRUNCATE statement may be emptying the rollups too
    delete from public.assistant_test_daily;
    delete from public.assistant_test_daily_assistant;
    delete from public.assistant_test_daily_status;
    update public.user_data_versions set version = nextval('public.user_data_version_seq')
    where topic = 'assistant_tests';
    return null;
end
$$;

do $$
declare f text;
begin
    foreach f in array array['insert', 'update', 'delete', 'truncate']
    loop
        execute format('revoke all on function public.%I() from public, anon, authenticated', 'assistant_test_daily_' || f);
    end loop;
end
$$;

drop trigger if exists assistant_tests_daily_insert on public.assistant_tests;
drop trigger if exists assistant_tests_daily_update on public.assistant_tests;
drop trigger if exists assistant_tests_daily_delete on public.assistant_tests;
drop trigger if exists assistant_tests_daily_truncate on public.assistant_tests;
create trigger assistant_tests_daily_insert after insert on public.assistant_tests
    referencing new table as new_rows for each statement execute function public.assistant_test_daily_insert();
create trigger assistant_tests_daily_update after update on public.assistant_tests
    referencing old table as old_rows new table as new_rows
    for each statement execute function public.assistant_test_daily_update();
create trigger assistant_tests_daily_delete after delete on public.assistant_tests
    referencing old table as old_rows for each statement execute function public.assistant_test_daily_delete();
create trigger assistant_tests_daily_truncate after truncate on public.assistant_tests
    for each statement execute function public.assistant_test_daily_truncate();
drop function if exists public.assistant_test_daily_sync();
