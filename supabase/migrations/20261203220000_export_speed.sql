-- Export speed (issues 21 and 22): the same file, byte for byte, for less of the database's time.
--
-- Profiled at L (1,000,000 calls) as `authenticated` with the request's claims (EXPLAIN (ANALYZE, BUFFERS) and the
-- backend's CPU per COPY), against COPY of the same rows, names and order (2.1-2.6 s of server CPU; the export
-- 8.5 s):
--   * the assistant's name was joined by a nested loop, one index scan of assistants per call (3,000,000 buffer
--     hits; under row-level security the planner gives the join no Memoize): about 2.5 s.  The user's few
--     hundred names are now read once into a jsonb object and looked up per call;
--   * dashboard_export_lines is PL/pgSQL, whose RETURN QUERY keeps the whole result (about 200 MB at L) in a
--     tuplestore, on disk past work_mem, before COPY reads it back (its CPU was within the measurement's noise).
--     The direct path now COPYs the query itself, which dashboard_export_copy hands it (dashboard_export_query
--     writes it for every caller), so rows stream as they are read;
--   * writing the line in SQL (a regular expression per row, quoting, concat_ws, the CRLF, then COPY quoting the
--     whole line again in its \x01 wrapper): about 3 s.  The direct path now COPYs the nine neutralised cells
--     with FORMAT csv, whose quoting is the file's own rule (a cell is quoted when it holds a comma, quote, CR or
--     LF; NULL, an empty cell, is written bare), and Python turns each row's LF into CRLF.
-- The per-row checks themselves stay (the formula neutralising, ISO times), cheaper: each value computed once.

-- The export's rows of one phase as a SELECT: the dated calls, newest first by (created_at, id), or (p_undated)
-- the calls without created_at by id, newest first; after the cursor p_after ({"t", "id"}, or {"undated": true,
-- "id"}); at most p_limit rows (null: all).  p_form:
--   'cells': the file's nine cells as text (TEST_EXPORT_COLUMNS: formula-neutralised, times as
--            2026-11-25T07:40:04[.ffffff]Z, an empty cell as null), for COPY ... (FORMAT csv);
--   'lines': the dashboard_export_line row type: each row's CSV line written here (quoted as COPY quotes, CRLF),
--            null item, created_at and id for the next cursor;
--   'items': the same with the item, the row's TEST_EXPORT_COLUMNS as a JSON array, for the other formats.
-- Run it under DateStyle ISO (the times are timestamp::text: dashboard_export_lines sets it, the direct path
-- sets it for its transaction).
create or replace function public.dashboard_export_query(
    p_start timestamp, p_end timestamp, p_assistant_ids text[], p_languages text[], p_statuses text[],
    p_search text, p_phrase text, p_after jsonb, p_limit int, p_undated boolean, p_form text
) returns text
language plpgsql stable
set search_path = ''
as $$
declare
    uid text := public.dashboard_uid();
    w text := public.dashboard_tests_where(uid, p_start, p_end, p_assistant_ids, p_languages, p_statuses,
                                           p_search, p_phrase);
    -- a text cell: '*[=+-@\t\r] at the start gets an apostrophe (neutralised); '' is null (an empty cell)
    neut constant text := 'case when ascii(t.%1$I) in (39, 61, 43, 45, 64, 9, 13) '
        'and ascii(ltrim(t.%1$I, '''''''')) in (61, 43, 45, 64, 9, 13) then '''''''' || t.%1$I '
        'else nullif(t.%1$I, '''') end as %1$I';
    -- a time: timestamp::text under DateStyle ISO drops a zero fraction and trailing zeros; pad them back
    stamp constant text := 'case when strpos(t.%1$I, ''.'') = 0 then t.%1$I else rpad(t.%1$I, 26, ''0'') end '
        '|| ''Z'' as %2$I';
    -- a cell of a line: quoted (quotes doubled) when it holds a comma, quote, CR or LF
    quoted constant text := 'case when c.%1$I ~ ''[",\r\n]'' then ''"'' || replace(c.%1$I, ''"'', ''""'') || ''"'' '
        'else c.%1$I end';
    texts constant text[] := array['assistant_id', 'assistant_name', 'test_phrase', 'language', 'call_id', 'status'];
    after_t timestamp := (p_after ->> 't')::timestamp;
    after_id uuid := (p_after ->> 'id')::uuid;
    rows text;
    cells text;
begin
    -- the rows in order, each value once: the name from the user's names read once (a lookup per call, not a
    -- join), language and status with their defaults, times as text
    rows := format(
        'select t.id, t.assistant_id, (select jsonb_object_agg(a.vapi_assistant_id, a.name) from public.assistants a '
        'where a.user_id = %L) ->> t.assistant_id as assistant_name, t.test_phrase, '
        'coalesce(nullif(t.language, ''''), ''english'') as language, t.call_id, '
        'coalesce(nullif(t.status, ''''), ''initiated'') as status, t.created_at, t.updated_at, '
        'replace(t.created_at::text, '' '', ''T'') as created_text, '
        'replace(t.updated_at::text, '' '', ''T'') as updated_text '
        'from public.assistant_tests t where %s and %s order by %s %s offset 0',
        uid, w,
        case when p_undated then 't.created_at is null' || case when after_id is null then ''
                                                              else format(' and t.id < %L::uuid', after_id) end
             else 't.created_at is not null' || case when after_t is null then ''
                  else format(' and t.created_at <= %L and (t.created_at, t.id) < (%L::timestamp, %L::uuid)',
                              after_t, after_t, after_id) end end,
        case when p_undated then 't.id desc' else 't.created_at desc, t.id desc' end,
        case when p_limit is null then '' else format('limit %s', p_limit) end);
    cells := format('select t.id::text as id, %s, %s, %s, %s, %s, %s, %s, %s',
                    format(neut, texts[1]), format(neut, texts[2]), format(neut, texts[3]), format(neut, texts[4]),
                    format(neut, texts[5]), format(neut, texts[6]),
                    format(stamp, 'created_text', 'created_at'), format(stamp, 'updated_text', 'updated_at'));
    if p_form = 'cells' then
        return format('%s from (%s) t', cells, rows);
    end if;
    -- one test per row decides whether any of its cells needs quotes (most rows: none), then each cell as it must be
    return format(
        'select case when concat(c.assistant_id, c.assistant_name, c.test_phrase, c.language, c.call_id, c.status) '
        '~ ''[",\r\n]'' then concat(c.id, '','', %s, '','', %s, '','', %s, '','', %s, '','', %s, '','', %s, '','', '
        'c.created_at, '','', c.updated_at) else concat(c.id, '','', c.assistant_id, '','', c.assistant_name, '','', '
        'c.test_phrase, '','', c.language, '','', c.call_id, '','', c.status, '','', c.created_at, '','', '
        'c.updated_at) end || E''\r\n'', %s, c.at, c.key from (%s, t.at, t.key, t.item from ('
        'select t.*, t.created_at as at, t.id as key, %s as item from (%s) t) t) c',
        format(quoted, texts[1]), format(quoted, texts[2]), format(quoted, texts[3]), format(quoted, texts[4]),
        format(quoted, texts[5]), format(quoted, texts[6]),
        case when p_form = 'items' then 'c.item' else 'null::jsonb' end, cells,
        case when p_form = 'items' then 'jsonb_build_array(t.id, t.assistant_id, t.assistant_name, t.test_phrase, '
                                        't.language, t.call_id, t.status, t.created_at, t.updated_at)'
             else 'null::jsonb' end,
        rows);
end
$$;

-- The export's rows as dashboard_export_lines always returned them (same arguments, same rows, same lines and
-- items), now from dashboard_export_query: REST pages them through dashboard_export_csv, the Excel, Parquet
-- and JSON files through dashboard_export_rows.
create or replace function public.dashboard_export_lines(
    p_start timestamp default null, p_end timestamp default null, p_assistant_ids text[] default null,
    p_languages text[] default null, p_statuses text[] default null, p_search text default null,
    p_phrase text default null, p_after jsonb default null, p_limit int default null, p_json boolean default false
) returns setof public.dashboard_export_line
language plpgsql stable
set search_path = ''
set datestyle = 'ISO, MDY'
as $$
declare
    form text := case when p_json then 'items' else 'lines' end;
    undated_phase boolean := coalesce((p_after ->> 'undated')::boolean, false);
    got bigint := 0;
begin
    if not undated_phase then
        return query execute public.dashboard_export_query(p_start, p_end, p_assistant_ids, p_languages, p_statuses,
                                                           p_search, p_phrase, p_after, p_limit, false, form);
        get diagnostics got = row_count;
        if p_limit is not null and got >= p_limit then
            return;
        end if;
    end if;
    -- the dated calls are done: the undated ones follow (from the cursor only when it is in them)
    return query execute public.dashboard_export_query(p_start, p_end, p_assistant_ids, p_languages, p_statuses,
                                                       p_search, p_phrase, case when undated_phase then p_after end,
                                                       (p_limit - got)::int, true, form);
end
$$;

-- The whole export for a caller that can COPY (the direct path): the statements, in order, whose
-- `COPY (...) TO STDOUT (FORMAT csv)` output, with CRLF for each row's LF, is the file after its header:
-- the dated calls, then the undated ones.  Run them as the user (row-level security applies to them as to
-- every call), under DateStyle ISO, in one transaction.
create or replace function public.dashboard_export_copy(
    p_start timestamp default null, p_end timestamp default null, p_assistant_ids text[] default null,
    p_languages text[] default null, p_statuses text[] default null, p_search text default null,
    p_phrase text default null
) returns text[]
language sql stable
set search_path = ''
as $$
    select array[
        public.dashboard_export_query(p_start, p_end, p_assistant_ids, p_languages, p_statuses, p_search, p_phrase,
                                      null, null, false, 'cells'),
        public.dashboard_export_query(p_start, p_end, p_assistant_ids, p_languages, p_statuses, p_search, p_phrase,
                                      null, null, true, 'cells')]
$$;

-- Only a signed-in user may call them, as every dashboard function.
revoke all on function public.dashboard_export_query(timestamp, timestamp, text[], text[], text[], text, text, jsonb,
                                                     int, boolean, text) from public, anon, service_role;
grant execute on function public.dashboard_export_query(timestamp, timestamp, text[], text[], text[], text, text, jsonb,
                                                        int, boolean, text) to authenticated;
revoke all on function public.dashboard_export_copy(timestamp, timestamp, text[], text[], text[], text, text)
    from public, anon, service_role;
grant execute on function public.dashboard_export_copy(timestamp, timestamp, text[], text[], text[], text, text)
    to authenticated;
