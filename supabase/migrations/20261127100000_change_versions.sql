-- Per-user change versions kept by the database, and rollup triggers that never deadlock.
--
-- 1. user_data_versions: every insert, update, delete or truncate on the five user tables advances a
--    version for (the row's user, the table), whoever writes it: the dashboard, the web app, a call
--    webhook, psql.  The dashboard keys its caches on these versions, so a write by any writer shows
--    on the next render in every session and every process; an unchanged screen costs one small read.
--    Versions come from one sequence, so a version number is never reused.
-- 2. The rollup triggers of 20261125000000 are replaced: one statement's calls become one net delta per
--    rollup key (old rows -1, new rows +1, zero deltas dropped), applied one rollup table at a time in
--    a fixed order and, within a table, in key order.  Concurrent writers therefore take the rollup
--    rows' locks in the same order and cannot deadlock, and a status change leaves the per-assistant
--    rollup untouched.  TRUNCATE of assistant_tests empties the rollups.
--
-- Trigger order (PostgreSQL fires same-event triggers by name): the assistant_tests_daily_* rollup
-- triggers, then the *_version trigger; every statement so locks rollup rows before its version row.

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
    foreach t in array array['subscriptions', 'intents', 'assistant_settings', 'assistants', 'assistant_tests']
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

-- The rollups: one net delta per key, one table at a time, keys in order.
create or replace function public.assistant_test_daily_sync() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
    calls text;
    rollup record;
begin
    if tg_op = 'TRUNCATE' then
        -- delete, not truncate: the same TRUNCATE statement may be emptying the rollups too
        delete from public.assistant_test_daily;
        delete from public.assistant_test_daily_assistant;
        delete from public.assistant_test_daily_status;
        return null;
    end if;
    -- the statement's calls with their sign, as rollup keys
    calls := 'select user_id, coalesce(created_at::date, date ''0001-01-01'') as day, assistant_id, '
             'coalesce(language, '''') as language, coalesce(status, '''') as status, %s as sign from %s';
    calls := case tg_op
        when 'INSERT' then format(calls, '1', 'new_rows')
        when 'DELETE' then format(calls, '-1', 'old_rows')
        else format(calls, '-1', 'old_rows') || ' union all ' || format(calls, '1', 'new_rows')
    end;
    for rollup in select * from (values
        (1, 'assistant_test_daily', 'user_id, day, assistant_id, language, status'),
        (2, 'assistant_test_daily_assistant', 'user_id, day, assistant_id'),
        (3, 'assistant_test_daily_status', 'user_id, day, language, status')) r(ord, tbl, keys)
        order by ord
    loop
        execute format(
            'insert into public.%1$I as d (%2$s, tests) '
            'select %2$s, sum(sign) from (%3$s) c group by %2$s having sum(sign) <> 0 order by %2$s '
            'on conflict (%2$s) do update set tests = d.tests + excluded.tests',
            rollup.tbl, rollup.keys, calls);
    end loop;
    return null;
end
$$;
revoke all on function public.assistant_test_daily_sync() from public, anon, authenticated;

drop trigger if exists assistant_tests_daily_truncate on public.assistant_tests;
create trigger assistant_tests_daily_truncate after truncate on public.assistant_tests
    for each statement execute function public.assistant_test_daily_sync();
