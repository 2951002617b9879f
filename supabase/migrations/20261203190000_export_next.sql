-- The export's next-page cursor, written once (dashboard_export_next) instead of in both page functions
-- (dashboard_export_csv for REST, dashboard_export_rows for the Excel, Parquet and JSON files).  Same answers as
-- before: after the last row of a full page, {"t", "id"} (or {"undated": true, "id"}); null after the last page.

create or replace function public.dashboard_export_next(p_count bigint, p_limit int, p_t timestamp, p_id uuid)
returns jsonb
language sql immutable
set search_path = ''
as $$
    select case when p_count >= p_limit then
        case when p_t is null then jsonb_build_object('undated', true, 'id', p_id)
             else jsonb_build_object('t', p_t, 'id', p_id) end end
$$;

create or replace function public.dashboard_export_csv(
    p_start timestamp default null, p_end timestamp default null, p_assistant_ids text[] default null,
    p_languages text[] default null, p_statuses text[] default null, p_search text default null,
    p_phrase text default null, p_after jsonb default null, p_limit int default 5000
) returns jsonb
language sql stable
set search_path = ''
as $$
    select jsonb_build_object(
        'csv', coalesce(string_agg(l.line, ''), ''), 'rows', count(*),
        'next', public.dashboard_export_next(count(*), least(greatest(coalesce(p_limit, 5000), 1), 100000),
                                             (array_agg(l.created_at))[count(*)], (array_agg(l.id))[count(*)]))
    from public.dashboard_export_lines(p_start, p_end, p_assistant_ids, p_languages, p_statuses, p_search, p_phrase,
                                       p_after, least(greatest(coalesce(p_limit, 5000), 1), 100000)) l
$$;

create or replace function public.dashboard_export_rows(
    p_start timestamp default null, p_end timestamp default null, p_assistant_ids text[] default null,
    p_languages text[] default null, p_statuses text[] default null, p_search text default null,
    p_phrase text default null, p_after jsonb default null, p_limit int default 5000
) returns jsonb
language sql stable
set search_path = ''
as $$
    select jsonb_build_object(
        'rows', coalesce(jsonb_agg(l.item), '[]'::jsonb),
        'next', public.dashboard_export_next(count(*), least(greatest(coalesce(p_limit, 5000), 1), 100000),
                                             (array_agg(l.created_at))[count(*)], (array_agg(l.id))[count(*)]))
    from public.dashboard_export_lines(p_start, p_end, p_assistant_ids, p_languages, p_statuses, p_search, p_phrase,
                                       p_after, least(greatest(coalesce(p_limit, 5000), 1), 100000), true) l
$$;

-- Only a signed-in user may call it, as every dashboard function.
revoke all on function public.dashboard_export_next(bigint, int, timestamp, uuid) from public, anon, service_role;
grant execute on function public.dashboard_export_next(bigint, int, timestamp, uuid) to authenticated;
