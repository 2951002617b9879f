-- Cheaper rollup triggers on assistant_tests (issue 22, writers): the same rollups and change versions as
-- 20261203140000_integrity.sql, in one statement per trigger call instead of four.
--
-- Profile (bench/writers.py, webhook load: insert a call, then two status changes, each its own transaction):
-- a trigger call ran four statements (three rollup upserts and the version upsert), each with its own
-- executor start-up, sorts and snapshot; they were about 2/3 of a webhook statement's server time.  Now each
-- trigger call is one statement: the user's version row, then the three rollups from one pass over the
-- transition table(s).
--
-- No deadlock, by a different argument than before: the user's version row is taken FIRST, in user order
-- (the `v` sub-statement; `c` cannot produce a row before `v` has run to completion, since it counts v's
-- rows), and held until commit.  Every rollup row belongs to one user, and only these triggers write the
-- rollups, so whoever writes a user's rollup rows already holds that user's version row: writers of one
-- user queue on it and never wait for each other's rollup rows, and rollup keys need no order.  (Before,
-- rollup rows were taken in key order, one table at a time, and the version row last.)  TRUNCATE takes
-- the version rows first too (user_data_versions_truncate, before it) and locks the table outright.
--
-- Unchanged: counts exact for every writer (net delta per key, zero deltas dropped, so a status change
-- does not rewrite the per-assistant rollup); +1 version per statement per user; security definer with
-- an empty search_path; no grants to anyone (triggers only).

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
        select user_id, coalesce(created_at::date, date '0001-01-01') as day, assistant_id,
               coalesce(language, '') as language, coalesce(status, '') as status, count(*) as n
        from new_rows where (select count(*) from v) > 0 group by 1, 2, 3, 4, 5),
    a as (insert into public.assistant_test_daily_assistant as d (user_id, day, assistant_id, tests)
          select user_id, day, assistant_id, sum(n) from c group by 1, 2, 3
          on conflict (user_id, day, assistant_id) do update set tests = d.tests + excluded.tests),
    s as (insert into public.assistant_test_daily_status as d (user_id, day, language, status, tests)
          select user_id, day, language, status, sum(n) from c group by 1, 2, 3, 4
          on conflict (user_id, day, language, status) do update set tests = d.tests + excluded.tests)
    insert into public.assistant_test_daily as d (user_id, day, assistant_id, language, status, tests)
    select user_id, day, assistant_id, language, status, n from c
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
        select user_id, coalesce(created_at::date, date '0001-01-01') as day, assistant_id,
               coalesce(language, '') as language, coalesce(status, '') as status, -count(*) as n
        from old_rows where (select count(*) from v) > 0 group by 1, 2, 3, 4, 5),
    a as (insert into public.assistant_test_daily_assistant as d (user_id, day, assistant_id, tests)
          select user_id, day, assistant_id, sum(n) from c group by 1, 2, 3
          on conflict (user_id, day, assistant_id) do update set tests = d.tests + excluded.tests),
    s as (insert into public.assistant_test_daily_status as d (user_id, day, language, status, tests)
          select user_id, day, language, status, sum(n) from c group by 1, 2, 3, 4
          on conflict (user_id, day, language, status) do update set tests = d.tests + excluded.tests)
    insert into public.assistant_test_daily as d (user_id, day, assistant_id, language, status, tests)
    select user_id, day, assistant_id, language, status, n from c
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
        select user_id, coalesce(created_at::date, date '0001-01-01') as day, assistant_id,
               coalesce(language, '') as language, coalesce(status, '') as status, -1 as n
        from old_rows where (select count(*) from v) > 0
        union all
        select user_id, coalesce(created_at::date, date '0001-01-01'), assistant_id, coalesce(language, ''),
               coalesce(status, ''), 1
        from new_rows where (select count(*) from v) > 0),
    a as (insert into public.assistant_test_daily_assistant as d (user_id, day, assistant_id, tests)
          select user_id, day, assistant_id, sum(n) from c group by 1, 2, 3 having sum(n) <> 0
          on conflict (user_id, day, assistant_id) do update set tests = d.tests + excluded.tests),
    s as (insert into public.assistant_test_daily_status as d (user_id, day, language, status, tests)
          select user_id, day, language, status, sum(n) from c group by 1, 2, 3, 4 having sum(n) <> 0
          on conflict (user_id, day, language, status) do update set tests = d.tests + excluded.tests)
    insert into public.assistant_test_daily as d (user_id, day, assistant_id, language, status, tests)
    select user_id, day, assistant_id, language, status, sum(n) from c
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
