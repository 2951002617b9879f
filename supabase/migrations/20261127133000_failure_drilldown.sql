-- The failure drill-down of the Tests screen, and an exact test-phrase filter for the REST backend.
--
-- * dashboard_stats and dashboard_test_days again, with p_phrase: exactly this test_phrase (the
--   drill-down's click filters the Tests table to one phrase's calls; p_search stays a substring).
--   A phrase is not a rollup dimension, so with one both count from the calls.  The stats'
--   intents_per_week now follows the period (p_start, p_end) like every other figure of the screen.
-- * dashboard_failure_drilldown: the test phrases and the assistants with the most failed or
--   cancelled calls in a period (with the same assistant / language / search filters), each with its
--   total calls there, counted by the database (SqlUserStore.failure_drilldown is the same query).
--
-- The old signatures are dropped first: a new parameter makes a new overload, and PostgREST must
-- find one function for a call by its named arguments.

drop function if exists public.dashboard_stats(text, timestamp, timestamp, text[], text[], text[], text);
drop function if exists public.dashboard_test_days(text, timestamp, timestamp, text[], text[], text[], text);

-- Every number of the stats screen for one user, with the tests screen's filters (lib.models.TestFilter):
-- p_start inclusive, p_end exclusive (naive UTC); an empty or null array means "any"; p_search is a
-- case-insensitive literal substring of test_phrase (%, _ and \ match themselves).
-- Same semantics as SqlUserStore.stats: a status stored as null or '' is 'initiated', a language
-- 'english', in the counts and in the filters alike, an assistant is named by assistants.name on (user_id, vapi_assistant_id) when known,
-- weeks start on Monday.
create or replace function public.dashboard_stats(
    p_user_id text,
    p_start timestamp default null,
    p_end timestamp default null,
    p_assistant_ids text[] default null,
    p_languages text[] default null,
    p_statuses text[] default null,
    p_search text default null,
    p_phrase text default null
) returns jsonb
language plpgsql stable
set search_path = ''
as $$
declare
    result jsonb;
    use_rollup boolean;
    pattern text := case when coalesce(p_search, '') = '' then null
                         else '%' || replace(replace(replace(p_search, '\', '\\'), '%', '\%'), '_', '\_') || '%' end;
begin
    perform public.dashboard_check_user(p_user_id);
    -- Whole days and no phrase search: count from the daily rollup; otherwise from the calls.
    use_rollup := pattern is null and p_phrase is null
        and (p_start is null or p_start = date_trunc('day', p_start))
        and (p_end is null or p_end = date_trunc('day', p_end));
    with src as (
        select r.day, r.assistant_id, r.language, r.status, r.tests as n
        from public.assistant_test_daily r
        where use_rollup and r.user_id = p_user_id
          and (p_start is null or r.day >= p_start::date)
          and (p_end is null or r.day < p_end::date)
          and (coalesce(cardinality(p_assistant_ids), 0) = 0 or r.assistant_id = any(p_assistant_ids))
          and (coalesce(cardinality(p_languages), 0) = 0 or coalesce(nullif(r.language, ''), 'english') = any(p_languages))
          and (coalesce(cardinality(p_statuses), 0) = 0 or coalesce(nullif(r.status, ''), 'initiated') = any(p_statuses))
        union all
        select coalesce(t.created_at::date, date '0001-01-01'), t.assistant_id, coalesce(t.language, ''),
               coalesce(t.status, ''), 1
        from public.assistant_tests t
        where not use_rollup and t.user_id = p_user_id
          and (p_start is null or t.created_at >= p_start)
          and (p_end is null or t.created_at < p_end)
          and (coalesce(cardinality(p_assistant_ids), 0) = 0 or t.assistant_id = any(p_assistant_ids))
          and (coalesce(cardinality(p_languages), 0) = 0 or coalesce(nullif(t.language, ''), 'english') = any(p_languages))
          and (coalesce(cardinality(p_statuses), 0) = 0 or coalesce(nullif(t.status, ''), 'initiated') = any(p_statuses))
          and (pattern is null or t.test_phrase ilike pattern escape '\')
          and (p_phrase is null or t.test_phrase = p_phrase)
    ), by_day as (
        select day, assistant_id, coalesce(nullif(language, ''), 'english') as language,
               coalesce(nullif(status, ''), 'initiated') as status, sum(n) as n
        from src group by 1, 2, 3, 4
    )
    select jsonb_build_object(
        'intents', (select count(*) from public.intents where user_id = p_user_id),
        'assistants', (select count(*) from public.assistants where user_id = p_user_id),
        'tests', (select coalesce(sum(n), 0) from by_day),
        'tests_completed', (select coalesce(sum(n), 0) from by_day where status = 'completed'),
        'tests_per_day', coalesce((
            select jsonb_agg(jsonb_build_object('day', d.day, 'status', d.status, 'count', d.n)
                             order by d.day, d.status)
            from (select day, status, sum(n) as n from by_day where day > date '0001-01-01'
                  group by 1, 2 having sum(n) > 0) d), '[]'::jsonb),
        'tests_per_language', coalesce((
            select jsonb_agg(jsonb_build_object('language', l.language, 'count', l.n) order by l.n desc, l.language)
            from (select language, sum(n) as n from by_day group by 1 having sum(n) > 0) l), '[]'::jsonb),
        'tests_per_assistant', coalesce((
            select jsonb_agg(jsonb_build_object('assistant_id', a.assistant_id, 'name', a.name, 'count', a.n)
                             order by a.n desc, a.assistant_id)
            from (select c.assistant_id, s.name, c.n
                  from (select assistant_id, sum(n) as n from by_day group by 1 having sum(n) > 0) c
                  left join public.assistants s
                         on s.user_id = p_user_id and s.vapi_assistant_id = c.assistant_id) a), '[]'::jsonb),
        'intents_per_week', coalesce((
            select jsonb_agg(jsonb_build_object('week', w.week, 'count', w.n) order by w.week)
            from (select date_trunc('week', created_at)::date as week, count(*) as n
                  from public.intents where user_id = p_user_id and created_at is not null
                    and (p_start is null or created_at >= p_start) and (p_end is null or created_at < p_end)
                  group by 1) w),
            '[]'::jsonb)
    ) into result;
    return result;
end
$$;

revoke all on function public.dashboard_stats(text, timestamp, timestamp, text[], text[], text[], text, text)
    from public, anon;
grant execute on function public.dashboard_stats(text, timestamp, timestamp, text[], text[], text[], text, text)
    to authenticated, service_role;

-- The filtered calls' count per day (same filters and null rule as dashboard_stats), newest day
-- first, '0001-01-01' (calls without created_at) last: [{"day": "2026-11-25", "count": 12}, ...].
create or replace function public.dashboard_test_days(
    p_user_id text,
    p_start timestamp default null,
    p_end timestamp default null,
    p_assistant_ids text[] default null,
    p_languages text[] default null,
    p_statuses text[] default null,
    p_search text default null,
    p_phrase text default null
) returns jsonb
language plpgsql stable
set search_path = ''
as $$
declare
    result jsonb;
    any_assistant boolean := coalesce(cardinality(p_assistant_ids), 0) = 0;
    any_language boolean := coalesce(cardinality(p_languages), 0) = 0;
    any_status boolean := coalesce(cardinality(p_statuses), 0) = 0;
    use_rollup boolean;
    pattern text := case when coalesce(p_search, '') = '' then null
                         else '%' || replace(replace(replace(p_search, '\', '\\'), '%', '\%'), '_', '\_') || '%' end;
begin
    perform public.dashboard_check_user(p_user_id);
    use_rollup := pattern is null and p_phrase is null
        and (p_start is null or p_start = date_trunc('day', p_start))
        and (p_end is null or p_end = date_trunc('day', p_end));
    with per_day as (
        select r.day, r.tests as n
        from public.assistant_test_daily_status r
        where use_rollup and any_assistant and r.user_id = p_user_id
          and (p_start is null or r.day >= p_start::date)
          and (p_end is null or r.day < p_end::date)
          and (any_language or coalesce(nullif(r.language, ''), 'english') = any(p_languages))
          and (any_status or coalesce(nullif(r.status, ''), 'initiated') = any(p_statuses))
        union all
        select r.day, r.tests
        from public.assistant_test_daily r
        where use_rollup and not any_assistant and r.user_id = p_user_id
          and (p_start is null or r.day >= p_start::date)
          and (p_end is null or r.day < p_end::date)
          and r.assistant_id = any(p_assistant_ids)
          and (any_language or coalesce(nullif(r.language, ''), 'english') = any(p_languages))
          and (any_status or coalesce(nullif(r.status, ''), 'initiated') = any(p_statuses))
        union all
        select coalesce(t.created_at::date, date '0001-01-01'), 1
        from public.assistant_tests t
        where not use_rollup and t.user_id = p_user_id
          and (p_start is null or t.created_at >= p_start)
          and (p_end is null or t.created_at < p_end)
          and (any_assistant or t.assistant_id = any(p_assistant_ids))
          and (any_language or coalesce(nullif(t.language, ''), 'english') = any(p_languages))
          and (any_status or coalesce(nullif(t.status, ''), 'initiated') = any(p_statuses))
          and (pattern is null or t.test_phrase ilike pattern escape '\')
          and (p_phrase is null or t.test_phrase = p_phrase)
    )
    select coalesce(jsonb_agg(jsonb_build_object('day', d.day, 'count', d.n) order by d.day desc), '[]'::jsonb)
    into result
    from (select day, sum(n) as n from per_day group by day having sum(n) > 0) d;
    return result;
end
$$;

revoke all on function public.dashboard_test_days(text, timestamp, timestamp, text[], text[], text[], text, text)
    from public, anon;
grant execute on function public.dashboard_test_days(text, timestamp, timestamp, text[], text[], text[], text, text)
    to authenticated, service_role;

-- The phrases and assistants whose calls fail most in a period:
-- {"phrases": [{"key": phrase, "name": phrase, "total", "failed", "cancelled"}, ...],
--  "assistants": [{"key": vapi id, "name": assistants.name or null, "total", "failed", "cancelled"}, ...]},
-- most failed + cancelled first (then by key), p_limit rows each; only groups with a failure.
-- Statuses follow the null rule (null or '' is 'initiated', so never a failure).
create or replace function public.dashboard_failure_drilldown(
    p_user_id text,
    p_start timestamp default null,
    p_end timestamp default null,
    p_assistant_ids text[] default null,
    p_languages text[] default null,
    p_search text default null,
    p_limit integer default 10
) returns jsonb
language plpgsql stable
set search_path = ''
as $$
declare
    result jsonb;
    n integer := least(greatest(coalesce(p_limit, 10), 1), 100);
    pattern text := case when coalesce(p_search, '') = '' then null
                         else '%' || replace(replace(replace(p_search, '\', '\\'), '%', '\%'), '_', '\_') || '%' end;
begin
    perform public.dashboard_check_user(p_user_id);
    with calls as (
        select t.test_phrase, t.assistant_id, coalesce(nullif(t.status, ''), 'initiated') as status
        from public.assistant_tests t
        where t.user_id = p_user_id
          and (p_start is null or t.created_at >= p_start)
          and (p_end is null or t.created_at < p_end)
          and (coalesce(cardinality(p_assistant_ids), 0) = 0 or t.assistant_id = any(p_assistant_ids))
          and (coalesce(cardinality(p_languages), 0) = 0 or coalesce(nullif(t.language, ''), 'english') = any(p_languages))
          and (pattern is null or t.test_phrase ilike pattern escape '\')
    ), by_phrase as (
        select test_phrase as key, count(*) as total, count(*) filter (where status = 'failed') as failed,
               count(*) filter (where status = 'cancelled') as cancelled
        from calls group by test_phrase
        having count(*) filter (where status in ('failed', 'cancelled')) > 0
        order by count(*) filter (where status in ('failed', 'cancelled')) desc, test_phrase
        limit n
    ), by_assistant as (
        select assistant_id as key, count(*) as total, count(*) filter (where status = 'failed') as failed,
               count(*) filter (where status = 'cancelled') as cancelled
        from calls group by assistant_id
        having count(*) filter (where status in ('failed', 'cancelled')) > 0
        order by count(*) filter (where status in ('failed', 'cancelled')) desc, assistant_id
        limit n
    )
    select jsonb_build_object(
        'phrases', coalesce((
            select jsonb_agg(jsonb_build_object('key', p.key, 'name', p.key, 'total', p.total, 'failed', p.failed,
                                                'cancelled', p.cancelled)
                             order by p.failed + p.cancelled desc, p.key)
            from by_phrase p), '[]'::jsonb),
        'assistants', coalesce((
            select jsonb_agg(jsonb_build_object('key', a.key, 'name', s.name, 'total', a.total, 'failed', a.failed,
                                                'cancelled', a.cancelled)
                             order by a.failed + a.cancelled desc, a.key)
            from by_assistant a
            left join public.assistants s on s.user_id = p_user_id and s.vapi_assistant_id = a.key), '[]'::jsonb)
    ) into result;
    return result;
end
$$;

revoke all on function public.dashboard_failure_drilldown(text, timestamp, timestamp, text[], text[], text, integer)
    from public, anon;
grant execute on function public.dashboard_failure_drilldown(text, timestamp, timestamp, text[], text[], text, integer)
    to authenticated, service_role;
