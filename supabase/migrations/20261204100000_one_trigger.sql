-- The hourly rollup (20261203200000_local_days.sql) kept by the daily triggers' one statement, instead of
-- triggers of its own (issue 22, writers).
--
-- Profile (bench/writers.py, webhook load): each statement on assistant_tests fired two statement-level
-- triggers, the daily one (version row and three rollups, 20261203230000_writer_speed.sql) and the hourly
-- one; each firing pays for its transition tables, a PL/pgSQL call and an executor start.  Now one firing per
-- statement writes the version row and the four rollups from one pass over the transition table(s), grouped
-- by hour (a day's rollups sum its hours).
--
-- Unchanged: what every rollup holds, for every writer (net delta per key, zero deltas dropped); the version
-- row taken first (no deadlock, see 20261203230000); +1 version per statement per user; TRUNCATE (its own
-- triggers, unchanged); security definer, empty search_path, no grants (triggers only).

create or replace function public.assistant_test_daily_insert() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
    with v as (
        insert into public.user_data_versions as v (user_id, topic, version)
        select distinct user_id, 'assistant_tests', 1 from new_rows order by 1
        on conflict (user_id, topic) do update set version = v.version + 1
        returning 1),
    c as materialized (
        select user_id, coalesce(date_trunc('hour', created_at), timestamp '0001-01-01') as hour, assistant_id,
               coalesce(language, '') as language, coalesce(status, '') as status, count(*) as n
        from new_rows where (select count(*) from v) > 0 group by 1, 2, 3, 4, 5),
    a as (insert into public.assistant_test_daily_assistant as d (user_id, day, assistant_id, tests)
          select user_id, hour::date, assistant_id, sum(n) from c group by 1, 2, 3
          on conflict (user_id, day, assistant_id) do update set tests = d.tests + excluded.tests),
    s as (insert into public.assistant_test_daily_status as d (user_id, day, language, status, tests)
          select user_id, hour::date, language, status, sum(n) from c group by 1, 2, 3, 4
          on conflict (user_id, day, language, status) do update set tests = d.tests + excluded.tests),
    h as (insert into public.assistant_test_hourly_status as d (user_id, hour, language, status, tests)
          select user_id, hour, language, status, sum(n) from c group by 1, 2, 3, 4
          on conflict (user_id, hour, language, status) do update set tests = d.tests + excluded.tests)
    insert into public.assistant_test_daily as d (user_id, day, assistant_id, language, status, tests)
    select user_id, hour::date, assistant_id, language, status, sum(n) from c group by 1, 2, 3, 4, 5
    on conflict (user_id, day, assistant_id, language, status) do update set tests = d.tests + excluded.tests;
    return null;
end
$$;

create or replace function public.assistant_test_daily_delete() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
    with v as (
        insert into public.user_data_versions as v (user_id, topic, version)
        select distinct user_id, 'assistant_tests', 1 from old_rows order by 1
        on conflict (user_id, topic) do update set version = v.version + 1
        returning 1),
    c as materialized (
        select user_id, coalesce(date_trunc('hour', created_at), timestamp '0001-01-01') as hour, assistant_id,
               coalesce(language, '') as language, coalesce(status, '') as status, -count(*) as n
        from old_rows where (select count(*) from v) > 0 group by 1, 2, 3, 4, 5),
    a as (insert into public.assistant_test_daily_assistant as d (user_id, day, assistant_id, tests)
          select user_id, hour::date, assistant_id, sum(n) from c group by 1, 2, 3
          on conflict (user_id, day, assistant_id) do update set tests = d.tests + excluded.tests),
    s as (insert into public.assistant_test_daily_status as d (user_id, day, language, status, tests)
          select user_id, hour::date, language, status, sum(n) from c group by 1, 2, 3, 4
          on conflict (user_id, day, language, status) do update set tests = d.tests + excluded.tests),
    h as (insert into public.assistant_test_hourly_status as d (user_id, hour, language, status, tests)
          select user_id, hour, language, status, sum(n) from c group by 1, 2, 3, 4
          on conflict (user_id, hour, language, status) do update set tests = d.tests + excluded.tests)
    insert into public.assistant_test_daily as d (user_id, day, assistant_id, language, status, tests)
    select user_id, hour::date, assistant_id, language, status, sum(n) from c group by 1, 2, 3, 4, 5
    on conflict (user_id, day, assistant_id, language, status) do update set tests = d.tests + excluded.tests;
    return null;
end
$$;

-- An update moves calls between keys: old rows -1, new rows +1, the net change per key of each rollup,
-- zero changes dropped.
create or replace function public.assistant_test_daily_update() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
    with v as (
        insert into public.user_data_versions as v (user_id, topic, version)
        select user_id, 'assistant_tests', 1
        from (select user_id from old_rows union select user_id from new_rows) u order by 1
        on conflict (user_id, topic) do update set version = v.version + 1
        returning 1),
    c as materialized (
        select user_id, coalesce(date_trunc('hour', created_at), timestamp '0001-01-01') as hour, assistant_id,
               coalesce(language, '') as language, coalesce(status, '') as status, -1 as n
        from old_rows where (select count(*) from v) > 0
        union all
        select user_id, coalesce(date_trunc('hour', created_at), timestamp '0001-01-01'), assistant_id,
               coalesce(language, ''), coalesce(status, ''), 1
        from new_rows where (select count(*) from v) > 0),
    a as (insert into public.assistant_test_daily_assistant as d (user_id, day, assistant_id, tests)
          select user_id, hour::date, assistant_id, sum(n) from c group by 1, 2, 3 having sum(n) <> 0
          on conflict (user_id, day, assistant_id) do update set tests = d.tests + excluded.tests),
    s as (insert into public.assistant_test_daily_status as d (user_id, day, language, status, tests)
          select user_id, hour::date, language, status, sum(n) from c group by 1, 2, 3, 4 having sum(n) <> 0
          on conflict (user_id, day, language, status) do update set tests = d.tests + excluded.tests),
    h as (insert into public.assistant_test_hourly_status as d (user_id, hour, language, status, tests)
          select user_id, hour, language, status, sum(n) from c group by 1, 2, 3, 4 having sum(n) <> 0
          on conflict (user_id, hour, language, status) do update set tests = d.tests + excluded.tests)
    insert into public.assistant_test_daily as d (user_id, day, assistant_id, language, status, tests)
    select user_id, hour::date, assistant_id, language, status, sum(n) from c
    group by 1, 2, 3, 4, 5 having sum(n) <> 0
    on conflict (user_id, day, assistant_id, language, status) do update set tests = d.tests + excluded.tests;
    return null;
end
$$;

do $$
declare f text;
begin
    foreach f in array array['insert', 'update', 'delete']
    loop
        execute format('revoke all on function public.%I() from public, anon, authenticated', 'assistant_test_daily_' || f);
    end loop;
end
$$;

-- The hourly rollup's own insert, update and delete triggers and their functions go (its TRUNCATE trigger stays).
drop trigger if exists assistant_tests_hourly_insert on public.assistant_tests;
drop trigger if exists assistant_tests_hourly_update on public.assistant_tests;
drop trigger if exists assistant_tests_hourly_delete on public.assistant_tests;
drop function if exists public.assistant_test_hourly_insert();
drop function if exists public.assistant_test_hourly_update();
drop function if exists public.assistant_test_hourly_delete();
