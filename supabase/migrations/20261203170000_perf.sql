-- perf (issue 22): the export and the Tests screen's pages read newest first from an index in their order, and
-- the stats screen reads the daily rollups in every time zone.

-- Every number of the stats screen (lib.models.Stats), as 20261203090000_one_engine.sql computes them, except that a
-- period that does not start and end at UTC midnight (a period in another time zone) now also reads the rollups:
-- its whole UTC days from them, and only the part-days at either end from the calls (before: the whole period
-- from the calls, some 7x the rollups' time for 30 days at L).
create or replace function public.dashboard_stats(
    p_start timestamp default null, p_end timestamp default null, p_assistant_ids text[] default null,
    p_languages text[] default null, p_statuses text[] default null, p_search text default null,
    p_phrase text default null
) returns jsonb
language plpgsql stable
set search_path = ''
as $$
declare
    uid text := public.dashboard_uid();
    result jsonb;
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
begin
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
    else
        calls := format('select coalesce(t.created_at::date, date ''0001-01-01'') as day, t.assistant_id, '
                        '%s as language, %s as status, count(*) as n from public.assistant_tests t where %s '
                        'group by 1, 2, 3, 4', lang, status,
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
                from (select date_trunc('week', created_at)::date as week, count(*) as n
                      from public.intents where user_id = %4$L and created_at is not null %5$s
                      group by 1) w), '[]'::jsonb))
        $q$, calls, per_day, per_assistant, uid, days)
    into result;
    return result;
end
$$;


-- The filtered calls' count per day (the Tests screen's total and pages, the export's count), as one_engine
-- computes it, except that a period in another time zone also reads the rollups: its whole UTC days from them,
-- the part-days at either end from the calls (one day each).
create or replace function public.dashboard_test_day_counts(
    p_start timestamp default null, p_end timestamp default null, p_assistant_ids text[] default null,
    p_languages text[] default null, p_statuses text[] default null, p_search text default null,
    p_phrase text default null
) returns table (day date, n bigint)
language plpgsql stable
set search_path = ''
as $$
declare
    uid text := public.dashboard_uid();
    any_assistant boolean := coalesce(cardinality(p_assistant_ids), 0) = 0;
    any_language boolean := coalesce(cardinality(p_languages), 0) = 0;
    any_status boolean := coalesce(cardinality(p_statuses), 0) = 0;
    whole_start date := case when p_start = date_trunc('day', p_start) then p_start::date else p_start::date + 1 end;
    whole_end date := p_end::date;
    part text := 'select t.created_at::date, count(*) from public.assistant_tests t where %s group by 1';
begin
    if coalesce(p_search, '') = '' and p_phrase is null
       and (((p_start is null or p_start = date_trunc('day', p_start)) and (p_end is null or p_end = whole_end))
            or (p_start is not null and (p_end is null or whole_start < whole_end))) then
        if any_assistant then
            return query
            select r.day, sum(r.tests)::bigint from public.assistant_test_daily_status r
            where r.user_id = uid
              and (p_start is null or r.day >= whole_start) and (p_end is null or r.day < whole_end)
              and (any_language or coalesce(nullif(r.language, ''), 'english') = any(p_languages))
              and (any_status or coalesce(nullif(r.status, ''), 'initiated') = any(p_statuses))
            group by r.day having sum(r.tests) > 0;
        else
            return query
            select r.day, sum(r.tests)::bigint from public.assistant_test_daily r
            where r.user_id = uid and r.assistant_id = any(p_assistant_ids)
              and (p_start is null or r.day >= whole_start) and (p_end is null or r.day < whole_end)
              and (any_language or coalesce(nullif(r.language, ''), 'english') = any(p_languages))
              and (any_status or coalesce(nullif(r.status, ''), 'initiated') = any(p_statuses))
            group by r.day having sum(r.tests) > 0;
        end if;
        -- a period in another time zone: its part-days at either end, from the calls
        if p_start is not null and p_start <> whole_start then
            return query execute format(part, public.dashboard_tests_where(
                uid, p_start, whole_start::timestamp, p_assistant_ids, p_languages, p_statuses, null, null));
        end if;
        if p_end is not null and p_end <> whole_end then
            return query execute format(part, public.dashboard_tests_where(
                uid, whole_end::timestamp, p_end, p_assistant_ids, p_languages, p_statuses, null, null));
        end if;
    else
        return query execute format(
            'select coalesce(t.created_at::date, date ''0001-01-01''), count(*) from public.assistant_tests t '
            'where %s group by 1',
            public.dashboard_tests_where(uid, p_start, p_end, p_assistant_ids, p_languages, p_statuses,
                                         p_search, p_phrase));
    end if;
end
$$;

-- Newest first, as the export and the Tests screen read the calls ((created_at, id) descending; the calls without
-- created_at are read apart, by id): an index in exactly that order serves the sort, the ties on created_at
-- included, and the deep-page offset walks it index-only.  The schema's own (user_id) and (user_id, created_at)
-- indexes stay: they are its prefixes, but they are part of the shared schema other writers know by name.
create index if not exists idx_assistant_tests_user_created_id
    on public.assistant_tests (user_id, created_at desc, id desc);
