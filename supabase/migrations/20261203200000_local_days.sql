-- One clock (issue 20, item 2): the stats screen's days are the user's local days.
--
-- Periods were already local days (lib/screens/urlstate.py: [local midnight, local midnight) as UTC instants), but
-- the per-day chart grouped by the calls' UTC date: a 30-day period in Moscow began with a three-hour stub bar dated
-- the day before it, and a call at 01:00 Moscow time was counted on the previous day.  dashboard_stats now takes the
-- user's zone (p_zone, an IANA name; UTC when null, empty or unknown to this server) and buckets days with
-- `at time zone`.
--
-- A local day is not a UTC day, so the daily rollups cannot answer it.  Counting the period's calls instead cost
-- 0.1-1.6 s at 300,000 calls (docs/benchmarks.md, "One clock"); an hourly rollup per (user, hour, language, status)
-- answers every hour that lies within one local day, and the calls only the hours a local midnight cuts in two (none
-- in a zone on the whole hour; one a day in Asia/Kolkata, +05:30), so the days cost about what the UTC days did.  A
-- chosen assistant (its own (user_id, assistant_id, created_at) index) or a phrase search counts the calls, as
-- before.  Totals, languages and assistants are counted as before: they do not depend on where a day starts, and
-- they agree with the days to the call.

-- == 1. The hourly rollup ======================================================================================

-- hour is created_at truncated to the hour, in UTC ('0001-01-01' when created_at is null); a null language or
-- status is stored as '' (as in the daily rollups).  Derived data: users may read their own rows; only the triggers
-- write.
create table if not exists public.assistant_test_hourly_status (
    user_id varchar(255) not null,
    hour timestamp not null,
    language varchar(50) not null,
    status varchar(50) not null,
    tests bigint not null default 0,
    constraint assistant_test_hourly_status_pkey primary key (user_id, hour, language, status)
);

alter table public.assistant_test_hourly_status enable row level security;
drop policy if exists assistant_test_hourly_status_owner on public.assistant_test_hourly_status;
create policy assistant_test_hourly_status_owner on public.assistant_test_hourly_status
    as permissive for all to authenticated
    using (user_id = ((select auth.jwt()) ->> 'sub')) with check (user_id = ((select auth.jwt()) ->> 'sub'));
revoke all on public.assistant_test_hourly_status from public, anon, authenticated, service_role;
grant select on public.assistant_test_hourly_status to authenticated, service_role;

-- Kept by its own statement-level triggers beside the daily ones (20261203140000_integrity.sql), for every writer.
create or replace function public.assistant_test_hourly_insert() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
    insert into public.assistant_test_hourly_status as h (user_id, hour, language, status, tests)
    select user_id, coalesce(date_trunc('hour', created_at), timestamp '0001-01-01'), coalesce(language, ''),
           coalesce(status, ''), count(*)
    from new_rows group by 1, 2, 3, 4 order by 1, 2, 3, 4
    on conflict (user_id, hour, language, status) do update set tests = h.tests + excluded.tests;
    return null;
end
$$;

create or replace function public.assistant_test_hourly_delete() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
    insert into public.assistant_test_hourly_status as h (user_id, hour, language, status, tests)
    select user_id, coalesce(date_trunc('hour', created_at), timestamp '0001-01-01'), coalesce(language, ''),
           coalesce(status, ''), -count(*)
    from old_rows group by 1, 2, 3, 4 order by 1, 2, 3, 4
    on conflict (user_id, hour, language, status) do update set tests = h.tests + excluded.tests;
    return null;
end
$$;

-- The net change per key, zero changes dropped (a webhook's status change: one hour, two statuses).
create or replace function public.assistant_test_hourly_update() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
    insert into public.assistant_test_hourly_status as h (user_id, hour, language, status, tests)
    select user_id, hour, language, status, sum(n) from (
        select user_id, coalesce(date_trunc('hour', created_at), timestamp '0001-01-01') as hour,
               coalesce(language, '') as language, coalesce(status, '') as status, -1 as n from old_rows
        union all
        select user_id, coalesce(date_trunc('hour', created_at), timestamp '0001-01-01'), coalesce(language, ''),
               coalesce(status, ''), 1 from new_rows) c
    group by 1, 2, 3, 4 having sum(n) <> 0 order by 1, 2, 3, 4
    on conflict (user_id, hour, language, status) do update set tests = h.tests + excluded.tests;
    return null;
end
$$;

create or replace function public.assistant_test_hourly_truncate() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
    delete from public.assistant_test_hourly_status;  -- delete: the same TRUNCATE may be emptying it too
    return null;
end
$$;

do $$
declare f text;
begin
    foreach f in array array['insert', 'update', 'delete', 'truncate']
    loop
        execute format('revoke all on function public.%I() from public, anon, authenticated, service_role',
                       'assistant_test_hourly_' || f);
    end loop;
end
$$;

drop trigger if exists assistant_tests_hourly_insert on public.assistant_tests;
drop trigger if exists assistant_tests_hourly_update on public.assistant_tests;
drop trigger if exists assistant_tests_hourly_delete on public.assistant_tests;
drop trigger if exists assistant_tests_hourly_truncate on public.assistant_tests;
create trigger assistant_tests_hourly_insert after insert on public.assistant_tests
    referencing new table as new_rows for each statement execute function public.assistant_test_hourly_insert();
create trigger assistant_tests_hourly_update after update on public.assistant_tests
    referencing old table as old_rows new table as new_rows
    for each statement execute function public.assistant_test_hourly_update();
create trigger assistant_tests_hourly_delete after delete on public.assistant_tests
    referencing old table as old_rows for each statement execute function public.assistant_test_hourly_delete();
create trigger assistant_tests_hourly_truncate after truncate on public.assistant_tests
    for each statement execute function public.assistant_test_hourly_truncate();

-- Backfill once, for a project that already has test calls.
insert into public.assistant_test_hourly_status (user_id, hour, language, status, tests)
select user_id, coalesce(date_trunc('hour', created_at), timestamp '0001-01-01'), coalesce(language, ''),
       coalesce(status, ''), count(*)
from public.assistant_tests
where not exists (select 1 from public.assistant_test_hourly_status)
group by 1, 2, 3, 4;


-- == 2. dashboard_stats by local day =============================================================================

-- A new argument is a new signature: the old one goes, so that a call by name finds exactly one function (PostgREST
-- refuses an ambiguous overload).
drop function if exists public.dashboard_stats(timestamp, timestamp, text[], text[], text[], text, text);

-- Every number of the stats screen (lib.models.Stats), as 20261203170000_perf.sql computes them, with the days
-- (tests_per_day, and the weeks of intents_per_week) in p_zone.  In UTC the statement is the perf migration's.
create or replace function public.dashboard_stats(
    p_start timestamp default null, p_end timestamp default null, p_assistant_ids text[] default null,
    p_languages text[] default null, p_statuses text[] default null, p_search text default null,
    p_phrase text default null, p_zone text default null
) returns jsonb
language plpgsql stable
set search_path = ''
as $$
declare
    uid text := public.dashboard_uid();
    result jsonb;
    zone text := coalesce(nullif(p_zone, ''), 'UTC');
    utc boolean;
    local_day text;
    lang constant text := 'coalesce(nullif(t.language, ''''), ''english'')';
    status constant text := 'coalesce(nullif(t.status, ''''), ''initiated'')';
    calls text := 'select null::date as day, null::text as assistant_id, null::text as language, '
                  'null::text as status, 0::bigint as n where false';
    per_day text := 'select day, language, status, n from calls';
    per_assistant text := 'select assistant_id, n from calls';
    w text;
    days text := '';
    -- the whole UTC days inside the period (the rollups' days); a period in another time zone has part-days
    -- at either end, counted from the calls
    whole_start date := case when p_start = date_trunc('day', p_start) then p_start::date else p_start::date + 1 end;
    whole_end date := p_end::date;
    edges text;
    lo timestamp;  -- the local days' span as UTC instants (an open end: the user's first or last hour)
    hi timestamp;
    cut timestamp[];  -- the hours a local midnight cuts in two
begin
    begin
        perform now() at time zone zone;
    exception when others then  -- a zone this server's tz database does not know: UTC, as the screen falls back
        zone := 'UTC';
    end;
    utc := upper(zone) in ('UTC', 'ETC/UTC', 'UCT', 'ETC/UCT', 'GMT', 'ETC/GMT', 'ZULU', 'UNIVERSAL',
                           'ETC/UNIVERSAL', 'ETC/ZULU', 'GMT0', 'ETC/GMT0', 'GREENWICH', 'ETC/GREENWICH');
    -- the local date of a UTC timestamp expression
    local_day := '((%s) at time zone ''UTC'' at time zone ' || quote_literal(zone) || ')::date';
    if coalesce(p_search, '') = '' and p_phrase is null
       and (((p_start is null or p_start = date_trunc('day', p_start)) and (p_end is null or p_end = whole_end))
            or (p_start is not null and (p_end is null or whole_start < whole_end))) then
        w := public.dashboard_tests_where(uid, null, null, p_assistant_ids, p_languages, p_statuses, null, null)
             || case when p_start is not null then format(' and t.day >= %L::date', whole_start) else '' end
             || case when p_end is not null then format(' and t.day < %L::date', whole_end) else '' end;
        per_day := format('select t.day, %s as language, %s as status, t.tests as n from public.%I t where %s',
                          lang, status, case when coalesce(cardinality(p_assistant_ids), 0) = 0
                                             then 'assistant_test_daily_status' else 'assistant_test_daily' end, w);
        per_assistant := format('select t.assistant_id, t.tests as n from public.%I t where %s',
                                case when coalesce(cardinality(p_languages), 0) = 0
                                          and coalesce(cardinality(p_statuses), 0) = 0
                                     then 'assistant_test_daily_assistant' else 'assistant_test_daily' end, w);
        edges := concat_ws(' or ',
            case when p_start is not null and p_start <> whole_start
                 then format('(t.created_at >= %L::timestamp and t.created_at < %L::timestamp)', p_start, whole_start) end,
            case when p_end is not null and p_end <> whole_end
                 then format('(t.created_at >= %L::timestamp and t.created_at < %L::timestamp)', whole_end, p_end) end);
        if edges <> '' then
            calls := format('select t.created_at::date as day, t.assistant_id, %s as language, %s as status, '
                            'count(*) as n from public.assistant_tests t where %s and (%s) group by 1, 2, 3, 4',
                            lang, status, public.dashboard_tests_where(uid, null, null, p_assistant_ids, p_languages,
                                                                       p_statuses, null, null), edges);
            per_day := per_day || ' union all select day, language, status, n from calls';
            per_assistant := per_assistant || ' union all select assistant_id, n from calls';
        end if;
        if not utc then
            -- the days again, local.  Without a chosen assistant: from the hourly rollup, every hour that lies within
            -- one local day; the hours a local midnight cuts (a zone off the whole hour, e.g. +05:30, has one a day,
            -- and the period's bounds are then inside them) from the calls, one index range each.  With a chosen
            -- assistant: from its calls (the (user_id, assistant_id, created_at) index).
            if coalesce(cardinality(p_assistant_ids), 0) = 0 then
                lo := coalesce(p_start, (select min(r.hour) from public.assistant_test_hourly_status r
                                         where r.user_id = uid and r.hour > timestamp '0001-01-01'));
                hi := coalesce(p_end, (select max(r.hour) + interval '1 hour' from public.assistant_test_hourly_status r
                                       where r.user_id = uid));
                cut := array(
                    select date_trunc('hour', m.at) from (
                        select (d::timestamp at time zone zone) at time zone 'UTC' as at
                        from generate_series((lo at time zone 'UTC' at time zone zone)::date,
                                             (hi at time zone 'UTC' at time zone zone)::date, interval '1 day') d) m
                    where m.at >= lo and m.at <= hi and m.at <> date_trunc('hour', m.at));
                per_day := format('select %s as day, %s as language, %s as status, t.tests as n '
                                  'from public.assistant_test_hourly_status t where %s and t.hour >= %L::timestamp '
                                  'and t.hour <= %L::timestamp and t.hour <> all(%L::timestamp[])',
                                  format(local_day, 't.hour'), lang, status,
                                  public.dashboard_tests_where(uid, null, null, null, p_languages, p_statuses, null,
                                                               null), lo, hi - interval '1 hour', cut);
                if cardinality(cut) > 0 then
                    -- one index range per cut hour, written out (a join with the hours' list was planned as a
                    -- nested loop over every call of the period: 46 s for 90 days at 300,000 calls)
                    per_day := per_day || format(
                        ' union all select %s, %s, %s, count(*) from public.assistant_tests t where %s and (%s) '
                        'group by 1, 2, 3',
                        format(local_day, 't.created_at'), lang, status,
                        public.dashboard_tests_where(uid, p_start, p_end, null, p_languages, p_statuses, null, null),
                        (select string_agg(format('(t.created_at >= %L::timestamp and t.created_at < %L::timestamp)',
                                                  h, h + interval '1 hour'), ' or ')
                         from unnest(cut) h));
                end if;
            else
                per_day := format('select coalesce(%s, date ''0001-01-01'') as day, %s as language, %s as status, '
                                  'count(*) as n from public.assistant_tests t where %s group by 1, 2, 3',
                                  format(local_day, 't.created_at'), lang, status,
                                  public.dashboard_tests_where(uid, p_start, p_end, p_assistant_ids, p_languages,
                                                               p_statuses, null, null));
            end if;
        end if;
    else
        calls := format('select coalesce(%s, date ''0001-01-01'') as day, t.assistant_id, '
                        '%s as language, %s as status, count(*) as n from public.assistant_tests t where %s '
                        'group by 1, 2, 3, 4', format(local_day, 't.created_at'), lang, status,
                        public.dashboard_tests_where(uid, p_start, p_end, p_assistant_ids, p_languages, p_statuses,
                                                     p_search, p_phrase));
    end if;
    days := case when p_start is not null then format('and created_at >= %L::timestamp ', p_start) else '' end
            || case when p_end is not null then format('and created_at < %L::timestamp', p_end) else '' end;
    execute format($q$
        with calls as materialized (%1$s),
        by_day as (select day, language, status, sum(n) as n from (%2$s) d group by 1, 2, 3),
        by_assistant as (select assistant_id, sum(n) as n from (%3$s) a group by 1 having sum(n) > 0)
        select jsonb_build_object(
            'intents', (select count(*) from public.intents where user_id = %4$L),
            'assistants', (select count(*) from public.assistants where user_id = %4$L),
            'tests', (select coalesce(sum(n), 0) from by_day),
            'tests_completed', (select coalesce(sum(n), 0) from by_day where status = 'completed'),
            'tests_per_day', coalesce((
                select jsonb_agg(jsonb_build_object('day', d.day, 'status', d.status, 'count', d.n)
                                 order by d.day, d.status)
                from (select day, status, sum(n) as n from by_day where day > date '0001-01-01'
                      group by 1, 2 having sum(n) > 0) d), '[]'::jsonb),
            'tests_per_language', coalesce((
                select jsonb_agg(jsonb_build_object('language', l.language, 'count', l.n)
                                 order by l.n desc, l.language)
                from (select language, sum(n) as n from by_day group by 1 having sum(n) > 0) l), '[]'::jsonb),
            'tests_per_assistant', coalesce((
                select jsonb_agg(jsonb_build_object('assistant_id', c.assistant_id, 'name', s.name, 'count', c.n)
                                 order by c.n desc, c.assistant_id)
                from by_assistant c
                left join public.assistants s on s.user_id = %4$L and s.vapi_assistant_id = c.assistant_id),
                '[]'::jsonb),
            'intents_per_week', coalesce((
                select jsonb_agg(jsonb_build_object('week', w.week, 'count', w.n) order by w.week)
                from (select date_trunc('week', created_at at time zone 'UTC' at time zone %6$L)::date as week,
                             count(*) as n
                      from public.intents where user_id = %4$L and created_at is not null %5$s
                      group by 1) w), '[]'::jsonb))
        $q$, calls, per_day, per_assistant, uid, days, zone)
    into result;
    return result;
end
$$;

revoke all on function public.dashboard_stats(timestamp, timestamp, text[], text[], text[], text, text, text)
    from public, anon, service_role;
grant execute on function public.dashboard_stats(timestamp, timestamp, text[], text[], text[], text, text, text)
    to authenticated;
