-- One engine, one implementation (issue 17): every read and write a dashboard screen makes is one call of a
-- dashboard_* function here, the same whichever way the dashboard reaches the database (psycopg with
-- `set local role authenticated` and request.jwt.claims, or Supabase REST rpc with the user's token).
--
-- * Every function is security invoker with an empty search_path, runs as role authenticated under row-level
--   security, and takes no user id: the user is the caller's token (dashboard_uid(), 42501 without one).
--   The owner policies check tenancy a second time; the explicit user_id filters are there for the indexes.
-- * Executable by authenticated only (not anon, not service_role: a server key has no user).
-- * The earlier functions that took p_user_id (written for a REST backend that used the service role key)
--   are dropped: a function that trusts a user id from its caller is a side door.
-- * Filters of test calls (lib.models.TestFilter) are written once, in dashboard_tests_where(): a SQL
--   predicate with the values quoted as literals, run with EXECUTE, so each query is planned for its own
--   values (the indexes on (user_id, created_at) and (user_id, assistant_id, created_at) serve it).
--   p_start inclusive, p_end exclusive (naive UTC); an empty or null array means "any"; p_search is a
--   case-insensitive literal substring of test_phrase (%, _ and \ match themselves); p_phrase one exact phrase;
--   a language or status stored as null or '' is 'english' / 'initiated', in filters and results alike.

drop function if exists public.dashboard_stats(text, timestamp, timestamp, text[], text[], text[], text, text);
drop function if exists public.dashboard_test_days(text, timestamp, timestamp, text[], text[], text[], text, text);
drop function if exists public.dashboard_failure_drilldown(text, timestamp, timestamp, text[], text[], text, integer);
drop function if exists public.dashboard_save_intents(text, jsonb, jsonb, jsonb, timestamp, text);
drop function if exists public.dashboard_undo_save(text, uuid, timestamp);
drop function if exists public.dashboard_history(text, integer, integer);
drop function if exists public.dashboard_check_user(text);

-- The signed-in user: the token's sub.  Nothing else names the user.
create or replace function public.dashboard_uid() returns text
language plpgsql stable
set search_path = ''
as $$
declare
    uid text := (select auth.jwt()) ->> 'sub';
begin
    if coalesce(uid, '') = '' then
        raise exception 'not signed in' using errcode = '42501';
    end if;
    return uid;
end
$$;

-- The user's change versions (table -> version), kept by the triggers for every writer: {"intents": 3, ...}.
create or replace function public.dashboard_versions() returns jsonb
language sql stable
set search_path = ''
as $$
    select coalesce(jsonb_object_agg(v.topic, v.version), '{}'::jsonb)
    from public.user_data_versions v
    where v.user_id = public.dashboard_uid()
$$;

-- The user's intents, newest first (p_ids: only those; a save that lost its answer reads its rows back).
create or replace function public.dashboard_intents(p_ids uuid[] default null) returns jsonb
language sql stable
set search_path = ''
as $$
    select coalesce(jsonb_agg(public.intent_history_values(i) || jsonb_build_object('id', i.id)
                              order by i.created_at desc, i.id), '[]'::jsonb)
    from public.intents i
    where i.user_id = public.dashboard_uid() and (p_ids is null or i.id = any(p_ids))
$$;

-- The grid's save in one transaction, all or nothing, with its history record.  Added rows carry ids made by
-- the caller (a retry finds them: 23505), edited and deleted rows the updated_at the caller saw (a row changed
-- since, or gone, refuses the whole save: 40001, detail = the ids as a JSON array).
create or replace function public.dashboard_save_intents(
    p_added jsonb default '[]', p_edited jsonb default '[]', p_deleted jsonb default '[]',
    p_at timestamp default null, p_kind text default 'grid'
) returns jsonb
language plpgsql volatile
set search_path = ''
as $$
declare
    uid text := public.dashboard_uid();
    conflicts jsonb;
    before jsonb;
    history_id uuid;
    n_added int; n_edited int; n_deleted int;
    now_utc timestamp := coalesce(p_at, timezone('utc', clock_timestamp()));
begin
    if p_kind is null or p_kind not in ('grid', 'import') then
        raise exception 'p_kind must be grid or import' using errcode = '22023';
    end if;
    p_added := coalesce(p_added, '[]'::jsonb);
    p_edited := coalesce(p_edited, '[]'::jsonb);
    p_deleted := coalesce(p_deleted, '[]'::jsonb);
    -- every added row's id, made here when the caller sent none: the record names it
    select coalesce(jsonb_agg(jsonb_set(a.e, '{id}', to_jsonb(coalesce((a.e->>'id')::uuid, gen_random_uuid())))
                              order by a.ord), '[]'::jsonb) into p_added
    from jsonb_array_elements(p_added) with ordinality as a(e, ord);
    -- lock the touched rows in id order (concurrent saves cannot deadlock) and keep their values
    select coalesce(jsonb_object_agg(l.id::text, public.intent_history_values(l.r)), '{}'::jsonb) into before
    from (select i.id, i as r from public.intents i
          where i.user_id = uid
            and i.id in (select (e->>'id')::uuid from jsonb_array_elements(p_edited || p_deleted) e)
          order by i.id
          for update) l;

    select coalesce(jsonb_agg(x.id order by x.grp, x.ord), '[]'::jsonb) into conflicts
    from (
        select 0 as grp, d.ord, d.e->>'id' as id, (d.e->>'updated_at')::timestamp as seen
        from jsonb_array_elements(p_deleted) with ordinality as d(e, ord)
        union all
        select 1, d.ord, d.e->>'id', (d.e->>'updated_at')::timestamp
        from jsonb_array_elements(p_edited) with ordinality as d(e, ord)
    ) x
    left join public.intents i on i.id = (x.id)::uuid and i.user_id = uid
    where i.id is null or i.updated_at is distinct from x.seen;
    if jsonb_array_length(conflicts) > 0 then
        raise exception 'conflict' using errcode = '40001', detail = conflicts::text;
    end if;

    delete from public.intents i
    using jsonb_array_elements(p_deleted) e
    where i.user_id = uid and i.id = (e->>'id')::uuid;
    get diagnostics n_deleted = row_count;

    update public.intents i set
        intent_name = e->>'intent_name',
        example_user_phrases = array(select jsonb_array_elements_text(e->'example_user_phrases')),
        english_responses = array(select jsonb_array_elements_text(e->'english_responses')),
        russian_responses = array(select jsonb_array_elements_text(e->'russian_responses')),
        updated_at = now_utc
    from jsonb_array_elements(p_edited) e
    where i.user_id = uid and i.id = (e->>'id')::uuid;
    get diagnostics n_edited = row_count;

    insert into public.intents (id, user_id, intent_name, example_user_phrases, english_responses,
                                russian_responses, created_at, updated_at)
    select (e->>'id')::uuid, uid, e->>'intent_name',
           array(select jsonb_array_elements_text(e->'example_user_phrases')),
           array(select jsonb_array_elements_text(e->'english_responses')),
           array(select jsonb_array_elements_text(e->'russian_responses')),
           now_utc, now_utc
    from jsonb_array_elements(p_added) with ordinality as a(e, ord)
    order by a.ord;
    get diagnostics n_added = row_count;

    -- the record: deleted, then edited, then added rows, each in the order the caller gave them
    insert into public.intent_history (user_id, created_at, kind, changes)
    select uid, now_utc, p_kind, coalesce(jsonb_agg(jsonb_build_object(
               'id', c.id, 'before', before -> c.id, 'after', public.intent_history_values(i))
               order by c.grp, c.ord), '[]'::jsonb)
    from (
        select 0 as grp, d.ord, d.e->>'id' as id from jsonb_array_elements(p_deleted) with ordinality as d(e, ord)
        union all
        select 1, d.ord, d.e->>'id' from jsonb_array_elements(p_edited) with ordinality as d(e, ord)
        union all
        select 2, a.ord, a.e->>'id' from jsonb_array_elements(p_added) with ordinality as a(e, ord)
    ) c
    left join public.intents i on i.id = (c.id)::uuid and i.user_id = uid
    returning id into history_id;

    return jsonb_build_object('added', n_added, 'edited', n_edited, 'deleted', n_deleted, 'history_id', history_id);
end
$$;

-- Undo one save: its touched intents must be exactly as it left them (else 40001: detail = the changed ids,
-- hint = {id: name} of the record's intents); then they are put back exactly as before it, times included.
-- P0002: no such record of this user; 23505: undone already.  The undo's record: kind 'undo', created_at p_at.
create or replace function public.dashboard_undo_save(p_history_id uuid, p_at timestamp default null)
returns jsonb
language plpgsql volatile
set search_path = ''
as $$
declare
    uid text := public.dashboard_uid();
    rec public.intent_history;
    conflicts jsonb;
    names jsonb;
    history_id uuid;
    now_utc timestamp := coalesce(p_at, timezone('utc', clock_timestamp()));
begin
    select * into rec from public.intent_history h where h.id = p_history_id and h.user_id = uid;
    if not found then
        raise exception 'no such save' using errcode = 'P0002';
    end if;
    if exists (select 1 from public.intent_history h where h.reverts = rec.id) then
        raise exception 'already undone' using errcode = '23505';
    end if;

    perform 1 from public.intents i
    where i.user_id = uid and i.id in (select (c->>'id')::uuid from jsonb_array_elements(rec.changes) c)
    order by i.id
    for update;

    select coalesce(jsonb_agg(c.e->>'id' order by c.ord), '[]'::jsonb) into conflicts
    from jsonb_array_elements(rec.changes) with ordinality as c(e, ord)
    left join public.intents i on i.id = (c.e->>'id')::uuid and i.user_id = uid
    where not public.intent_history_matches(i, c.e->'after');
    if jsonb_array_length(conflicts) > 0 then
        select coalesce(jsonb_object_agg(c->>'id', coalesce(c->'after'->>'intent_name', c->'before'->>'intent_name',
                                                            c->>'id')), '{}'::jsonb) into names
        from jsonb_array_elements(rec.changes) c;
        raise exception 'conflict' using errcode = '40001', detail = conflicts::text, hint = names::text;
    end if;

    delete from public.intents i
    using jsonb_array_elements(rec.changes) c
    where i.user_id = uid and i.id = (c->>'id')::uuid and jsonb_typeof(c->'before') is distinct from 'object';

    update public.intents i set
        intent_name = c->'before'->>'intent_name',
        example_user_phrases = array(select jsonb_array_elements_text(c->'before'->'example_user_phrases')),
        english_responses = array(select jsonb_array_elements_text(c->'before'->'english_responses')),
        russian_responses = array(select jsonb_array_elements_text(c->'before'->'russian_responses')),
        updated_at = (c->'before'->>'updated_at')::timestamp
    from jsonb_array_elements(rec.changes) c
    where i.user_id = uid and i.id = (c->>'id')::uuid
      and jsonb_typeof(c->'before') = 'object' and jsonb_typeof(c->'after') = 'object';

    insert into public.intents (id, user_id, intent_name, example_user_phrases, english_responses,
                                russian_responses, created_at, updated_at)
    select (c.e->>'id')::uuid, uid, c.e->'before'->>'intent_name',
           array(select jsonb_array_elements_text(c.e->'before'->'example_user_phrases')),
           array(select jsonb_array_elements_text(c.e->'before'->'english_responses')),
           array(select jsonb_array_elements_text(c.e->'before'->'russian_responses')),
           (c.e->'before'->>'created_at')::timestamp, (c.e->'before'->>'updated_at')::timestamp
    from jsonb_array_elements(rec.changes) with ordinality as c(e, ord)
    where jsonb_typeof(c.e->'before') = 'object' and jsonb_typeof(c.e->'after') is distinct from 'object'
    order by c.ord;

    insert into public.intent_history (user_id, created_at, kind, reverts, changes)
    select uid, now_utc, 'undo', rec.id, coalesce(jsonb_agg(jsonb_build_object(
               'id', c.e->>'id', 'before', nullif(c.e->'after', 'null'::jsonb),
               'after', public.intent_history_values(i)) order by c.ord), '[]'::jsonb)
    from jsonb_array_elements(rec.changes) with ordinality as c(e, ord)
    left join public.intents i on i.id = (c.e->>'id')::uuid and i.user_id = uid
    returning id into history_id;

    return jsonb_build_object('undone', jsonb_array_length(rec.changes), 'history_id', history_id);
end
$$;

-- The undo record that reverts a save ({id, created_at}), or null: settles an undo whose answer was lost.
create or replace function public.dashboard_undo_of(p_history_id uuid) returns jsonb
language sql stable
set search_path = ''
as $$
    select jsonb_build_object('id', h.id, 'created_at', h.created_at)
    from public.intent_history h
    where h.user_id = public.dashboard_uid() and h.reverts = p_history_id
$$;

-- The History panel: the latest p_limit records, newest first, each with its first p_shown changes, the counts
-- of all of them (a large import's record is not shipped whole) and the id of the undo that undid it.
create or replace function public.dashboard_history(p_limit int default 20, p_shown int default 100)
returns jsonb
language plpgsql stable
set search_path = ''
as $$
declare
    uid text := public.dashboard_uid();
    result jsonb;
    head jsonpath := format('$[0 to %s]', greatest(coalesce(p_shown, 100), 1) - 1)::jsonpath;
begin
    select coalesce(jsonb_agg(jsonb_build_object(
               'id', h.id, 'created_at', h.created_at, 'kind', h.kind, 'reverts', h.reverts,
               'changes', jsonb_path_query_array(h.changes, head),
               'total', jsonb_array_length(h.changes),
               'added', jsonb_array_length(jsonb_path_query_array(h.changes, '$[*] ? (@.before == null)')),
               'deleted', jsonb_array_length(jsonb_path_query_array(h.changes, '$[*] ? (@.after == null)')),
               'undone_by', (select u.id from public.intent_history u where u.reverts = h.id and u.user_id = uid))
               order by h.created_at desc, h.id desc), '[]'::jsonb) into result
    from (select * from public.intent_history h
          where h.user_id = uid
          order by h.created_at desc, h.id desc
          limit least(greatest(coalesce(p_limit, 20), 1), 200)) h;
    return result;
end
$$;

-- The user's assistants, newest first, with the names of the intents each uses (null: not an intent of theirs).
create or replace function public.dashboard_assistants() returns jsonb
language sql stable
set search_path = ''
as $$
    select coalesce(jsonb_agg(jsonb_build_object(
               'id', a.id, 'vapi_assistant_id', a.vapi_assistant_id, 'name', a.name,
               'config', coalesce(a.config, '{}'::jsonb), 'intents_used', to_jsonb(coalesce(a.intents_used, '{}')),
               'intent_names', (select coalesce(jsonb_agg(i.intent_name order by u.n), '[]'::jsonb)
                                from unnest(a.intents_used) with ordinality as u(id, n)
                                left join public.intents i on i.id = u.id and i.user_id = a.user_id),
               'created_at', a.created_at, 'updated_at', a.updated_at)
               order by a.created_at desc, a.id), '[]'::jsonb)
    from public.assistants a
    where a.user_id = public.dashboard_uid()
$$;

-- The user's settings row ({is_active, created_at, updated_at}), created (active) on first read.
create or replace function public.dashboard_settings() returns jsonb
language plpgsql volatile
set search_path = ''
as $$
declare
    uid text := public.dashboard_uid();
    result jsonb;
    now_utc timestamp := timezone('utc', clock_timestamp());
begin
    select jsonb_build_object('is_active', coalesce(s.is_active, true), 'created_at', s.created_at,
                              'updated_at', s.updated_at) into result
    from public.assistant_settings s where s.user_id = uid;
    if result is null then
        insert into public.assistant_settings (user_id, is_active, created_at, updated_at)
        values (uid, true, now_utc, now_utc)
        on conflict (user_id) do nothing;
        select jsonb_build_object('is_active', coalesce(s.is_active, true), 'created_at', s.created_at,
                                  'updated_at', s.updated_at) into result
        from public.assistant_settings s where s.user_id = uid;
    end if;
    return result;
end
$$;

-- Pause or resume the user's assistants; updated_at = p_at, so a write whose answer was lost can be recognised.
create or replace function public.dashboard_set_active(p_active boolean, p_at timestamp default null) returns jsonb
language sql volatile
set search_path = ''
as $$
    insert into public.assistant_settings as s (user_id, is_active, created_at, updated_at)
    values (public.dashboard_uid(), p_active, coalesce(p_at, timezone('utc', clock_timestamp())),
            coalesce(p_at, timezone('utc', clock_timestamp())))
    on conflict (user_id) do update set is_active = excluded.is_active, updated_at = excluded.updated_at
    returning jsonb_build_object('is_active', s.is_active, 'created_at', s.created_at, 'updated_at', s.updated_at)
$$;

-- The user's subscription, or null.
create or replace function public.dashboard_subscription() returns jsonb
language sql stable
set search_path = ''
as $$
    select jsonb_build_object(
        'stripe_customer_id', s.stripe_customer_id, 'stripe_subscription_id', s.stripe_subscription_id,
        'status', s.status, 'plan_type', s.plan_type, 'billing_cycle', s.billing_cycle,
        'current_period_start', s.current_period_start, 'current_period_end', s.current_period_end,
        'created_at', s.created_at, 'updated_at', s.updated_at)
    from public.subscriptions s
    where s.user_id = public.dashboard_uid()
    limit 1
$$;

-- The test-call filter as a SQL predicate over assistant_tests aliased t, the user and every value quoted as
-- a literal (for EXECUTE).  The one place where a filter's meaning is written.
create or replace function public.dashboard_tests_where(
    p_uid text, p_start timestamp, p_end timestamp, p_assistant_ids text[], p_languages text[],
    p_statuses text[], p_search text, p_phrase text
) returns text
language sql stable
set search_path = ''
as $$
    select concat_ws(' and ',
        format('t.user_id = %L', p_uid),
        case when p_start is not null then format('t.created_at >= %L::timestamp', p_start) end,
        case when p_end is not null then format('t.created_at < %L::timestamp', p_end) end,
        case when coalesce(cardinality(p_assistant_ids), 0) > 0
             then format('t.assistant_id = any(%L::text[])', p_assistant_ids) end,
        case when coalesce(cardinality(p_languages), 0) > 0
             then format('coalesce(nullif(t.language, ''''), ''english'') = any(%L::text[])', p_languages) end,
        case when coalesce(cardinality(p_statuses), 0) > 0
             then format('coalesce(nullif(t.status, ''''), ''initiated'') = any(%L::text[])', p_statuses) end,
        case when coalesce(p_search, '') <> ''
             then format('t.test_phrase ilike %L escape ''\''',
                         '%' || replace(replace(replace(p_search, '\', '\\'), '%', '\%'), '_', '\_') || '%') end,
        case when p_phrase is not null then format('t.test_phrase = %L', p_phrase) end)
$$;

-- The filtered calls' count per day (day '0001-01-01': calls without created_at), from the daily rollups
-- when the filter allows (whole UTC days, no phrase search), else from the calls.
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
begin
    if coalesce(p_search, '') = '' and p_phrase is null
       and (p_start is null or p_start = date_trunc('day', p_start))
       and (p_end is null or p_end = date_trunc('day', p_end)) then
        if any_assistant then
            return query
            select r.day, sum(r.tests)::bigint from public.assistant_test_daily_status r
            where r.user_id = uid
              and (p_start is null or r.day >= p_start::date) and (p_end is null or r.day < p_end::date)
              and (any_language or coalesce(nullif(r.language, ''), 'english') = any(p_languages))
              and (any_status or coalesce(nullif(r.status, ''), 'initiated') = any(p_statuses))
            group by r.day having sum(r.tests) > 0;
        else
            return query
            select r.day, sum(r.tests)::bigint from public.assistant_test_daily r
            where r.user_id = uid and r.assistant_id = any(p_assistant_ids)
              and (p_start is null or r.day >= p_start::date) and (p_end is null or r.day < p_end::date)
              and (any_language or coalesce(nullif(r.language, ''), 'english') = any(p_languages))
              and (any_status or coalesce(nullif(r.status, ''), 'initiated') = any(p_statuses))
            group by r.day having sum(r.tests) > 0;
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

-- How many calls the filter selects (the Tests screen's total, the export's row count).
create or replace function public.dashboard_count_tests(
    p_start timestamp default null, p_end timestamp default null, p_assistant_ids text[] default null,
    p_languages text[] default null, p_statuses text[] default null, p_search text default null,
    p_phrase text default null
) returns jsonb
language sql stable
set search_path = ''
as $$
    select to_jsonb(coalesce(sum(c.n), 0))
    from public.dashboard_test_day_counts(p_start, p_end, p_assistant_ids, p_languages, p_statuses,
                                          p_search, p_phrase) c
$$;

-- One page of the Tests screen, newest first ((created_at, id) descending, then calls without created_at by
-- id descending): {"total": n, "rows": [{id, assistant_id, test_phrase, language, call_id, status, created_at,
-- updated_at}]}.  The per-day counts give the total and the day where the page starts, so the rows are read
-- from that day on with an in-day offset: page 20,000 costs about what page 1 does.
create or replace function public.dashboard_tests_page(
    p_start timestamp default null, p_end timestamp default null, p_assistant_ids text[] default null,
    p_languages text[] default null, p_statuses text[] default null, p_search text default null,
    p_phrase text default null, p_page int default 1, p_page_size int default 50
) returns jsonb
language plpgsql stable
set search_path = ''
as $$
declare
    uid text := public.dashboard_uid();
    size int := least(greatest(coalesce(p_page_size, 50), 1), 1000);
    skip_rows bigint := (greatest(coalesce(p_page, 1), 1) - 1)::bigint * size;
    no_day constant date := date '0001-01-01';
    total bigint;
    undated boolean;
    start_day date;
    in_day bigint;
    w text := public.dashboard_tests_where(uid, p_start, p_end, p_assistant_ids, p_languages, p_statuses,
                                           p_search, p_phrase);
    cols constant text := 'jsonb_build_object(''id'', t.id, ''assistant_id'', t.assistant_id, '
        '''test_phrase'', t.test_phrase, ''language'', coalesce(nullif(t.language, ''''), ''english''), '
        '''call_id'', t.call_id, ''status'', coalesce(nullif(t.status, ''''), ''initiated''), '
        '''created_at'', t.created_at, ''updated_at'', t.updated_at)';
    dated jsonb := '[]'::jsonb;
    rest jsonb := '[]'::jsonb;
    bound text;
    page_t timestamp;
    newer bigint;
begin
    with counts as (
        select c.day, c.n, sum(c.n) over (order by c.day desc) as upto
        from public.dashboard_test_day_counts(p_start, p_end, p_assistant_ids, p_languages, p_statuses,
                                              p_search, p_phrase) c
    )
    select (select coalesce(sum(n), 0) from counts), exists (select 1 from counts where day = no_day),
           s.day, skip_rows - (s.upto - s.n)
    into total, undated, start_day, in_day
    from (select 1) one
    left join lateral (select * from counts where upto > skip_rows order by day desc limit 1) s on true;

    if start_day is not null and start_day <> no_day then
        bound := format('t.created_at < %L::timestamp', start_day + 1);
        if in_day >= 200 then
            -- deep into a busy day: walk the offset over created_at alone (the (user_id, created_at) index), so
            -- the rows are read from the page's first timestamp on and only its ties are skipped by offset
            execute format('select t.created_at from public.assistant_tests t where %s and %s '
                           'order by t.created_at desc offset %s limit 1', w, bound, in_day) into page_t;
            execute format('select count(*) from public.assistant_tests t where %s and %s and t.created_at > %L',
                           w, bound, page_t) into newer;
            bound := format('t.created_at <= %L::timestamp', page_t);
            in_day := in_day - newer;
        end if;
        execute format('select coalesce(jsonb_agg(%s order by t.created_at desc, t.id desc), ''[]'') from ('
                       'select t.* from public.assistant_tests t where %s and %s '
                       'order by t.created_at desc, t.id desc offset %s limit %s) t',
                       cols, w, bound, in_day, size)
        into dated;
    end if;
    if start_day is not null and undated and jsonb_array_length(dated) < size then
        execute format('select coalesce(jsonb_agg(%s order by t.id desc), ''[]'') from ('
                       'select t.* from public.assistant_tests t where %s and t.created_at is null '
                       'order by t.id desc offset %s limit %s) t',
                       cols, w, case when start_day = no_day then in_day else 0 end, size - jsonb_array_length(dated))
        into rest;
    end if;
    return jsonb_build_object('total', total, 'rows', dated || rest);
end
$$;

-- The export's rows, newest first like the Tests screen: (created_at, id) descending, then the calls without
-- created_at by id descending; from after the p_after cursor ({"t", "id"}, or {"undated": true, "id"}), at most
-- p_limit rows (null: all).  Each row comes with its CSV line, written as lib.files.csv_encoding writes it
-- (formula-neutralised cells, quoted when they hold a comma, quote, CR or LF, times as
-- 2026-11-25T07:40:04[.ffffff]Z, CRLF at the end) and, for the other formats, its TEST_EXPORT_COLUMNS as a
-- JSON array.  The one place an export row is made: the direct path COPYs the lines of one call, REST pages
-- them through dashboard_export_csv, the Excel/Parquet/JSON files page dashboard_export_rows.
-- One row of the export as dashboard_export_lines returns it.
do $$
begin
    create type public.dashboard_export_line as (line text, item jsonb, created_at timestamp, id uuid);
exception when duplicate_object then null;  -- applied again (tests re-apply every file)
end
$$;

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
    uid text := public.dashboard_uid();
    w text := public.dashboard_tests_where(uid, p_start, p_end, p_assistant_ids, p_languages, p_statuses,
                                           p_search, p_phrase);
    -- a text cell: '*[=+-@\t\r] at the start gets an apostrophe (neutralised); '' is nothing
    neut constant text := 'coalesce(case when ascii(%1$s) in (39, 61, 43, 45, 64, 9, 13) '
        'and ascii(ltrim(%1$s, '''''''')) in (61, 43, 45, 64, 9, 13) then '''''''' || %1$s else %1$s end, '''')';
    -- ... and quoted (quotes doubled) when it holds a comma, quote, CR or LF
    quoted constant text := 'case when %1$s ~ ''[",\r\n]'' then ''"'' || replace(%2$s, ''"'', ''""'') || ''"'' '
        'else %2$s end';
    -- a time: timestamp::text under DateStyle ISO drops a zero fraction and trailing zeros; pad them back
    stamp constant text := 'coalesce(case when date_trunc(''second'', %1$s) = %1$s '
        'then replace(%1$s::text, '' '', ''T'') else rpad(replace(%1$s::text, '' '', ''T''), 26, ''0'') end '
        '|| ''Z'', '''')';
    lang constant text := 'coalesce(nullif(t.language, ''''), ''english'')';
    status constant text := 'coalesce(nullif(t.status, ''''), ''initiated'')';
    cols text;
    after_t timestamp := (p_after ->> 't')::timestamp;
    after_id uuid := (p_after ->> 'id')::uuid;
    undated_phase boolean := coalesce((p_after ->> 'undated')::boolean, false);
    got bigint := 0;
begin
    -- one test per row decides whether any of its cells needs quotes (most rows: none), then each cell as it must be
    cols := format('case when concat(t.assistant_id, t.name, t.test_phrase, t.language, t.call_id, t.status) '
                   '~ ''[",\r\n]'' then concat_ws('','', %s, %s, %s, %s, %s, %s, %s, %s, %s) '
                   'else concat_ws('','', %s, %s, %s, %s, %s, %s, %s, %s, %s) end',
                   't.id::text', format(quoted, 't.assistant_id', format(neut, 't.assistant_id')),
                   format(quoted, 't.name', format(neut, 't.name')),
                   format(quoted, 't.test_phrase', format(neut, 't.test_phrase')), format(quoted, lang, format(neut, lang)),
                   format(quoted, 't.call_id', format(neut, 't.call_id')), format(quoted, status, format(neut, status)),
                   format(stamp, 't.created_at'), format(stamp, 't.updated_at'),
                   't.id::text', format(neut, 't.assistant_id'), format(neut, 't.name'), format(neut, 't.test_phrase'),
                   format(neut, lang), format(neut, 't.call_id'), format(neut, status),
                   format(stamp, 't.created_at'), format(stamp, 't.updated_at'))
            || ' || E''\r\n'', '
            || case when p_json then format('jsonb_build_array(t.id, t.assistant_id, t.name, t.test_phrase, %s, '
                                            't.call_id, %s, t.created_at, t.updated_at)', lang, status)
                    else 'null::jsonb' end
            || ', t.created_at, t.id';
    -- sort the narrow rows, then format them (the sort does not carry the lines); the name joined before
    if not undated_phase then
        return query execute format(
            'select %s from (select t.*, a.name from public.assistant_tests t left join public.assistants a '
            'on a.user_id = t.user_id and a.vapi_assistant_id = t.assistant_id where %s and t.created_at is not null %s '
            'order by t.created_at desc, t.id desc %s offset 0) t',
            cols, w, case when after_t is null then ''
                          else format('and t.created_at <= %L and (t.created_at, t.id) < (%L::timestamp, %L::uuid)',
                                      after_t, after_t, after_id) end,
            case when p_limit is null then '' else format('limit %s', p_limit) end);
        get diagnostics got = row_count;
        if p_limit is not null and got >= p_limit then
            return;
        end if;
        after_id := null;  -- the dated calls are done: the undated ones follow
    end if;
    return query execute format(
        'select %s from (select t.*, a.name from public.assistant_tests t left join public.assistants a '
        'on a.user_id = t.user_id and a.vapi_assistant_id = t.assistant_id where %s and t.created_at is null %s '
        'order by t.id desc %s offset 0) t',
        cols, w, case when after_id is null then '' else format('and t.id < %L::uuid', after_id) end,
        case when p_limit is null then '' else format('limit %s', p_limit - got) end);
end
$$;

-- A page of the export for callers that cannot COPY (Supabase REST): {"csv": the lines, "rows": n, "next": the
-- cursor to pass back as p_after, null after the last page}.
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
        'next', case when count(*) = least(greatest(coalesce(p_limit, 5000), 1), 100000) then
            case when (array_agg(l.created_at))[count(*)] is null
                 then jsonb_build_object('undated', true, 'id', (array_agg(l.id))[count(*)])
                 else jsonb_build_object('t', (array_agg(l.created_at))[count(*)], 'id', (array_agg(l.id))[count(*)])
            end end)
    from public.dashboard_export_lines(p_start, p_end, p_assistant_ids, p_languages, p_statuses, p_search, p_phrase,
                                       p_after, least(greatest(coalesce(p_limit, 5000), 1), 100000)) l
$$;

-- A page of the export's rows, for the Excel, Parquet and JSON files: {"rows": [[TEST_EXPORT_COLUMNS], ...],
-- "next": the cursor, null after the last page}.
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
        'next', case when count(*) = least(greatest(coalesce(p_limit, 5000), 1), 100000) then
            case when (array_agg(l.created_at))[count(*)] is null
                 then jsonb_build_object('undated', true, 'id', (array_agg(l.id))[count(*)])
                 else jsonb_build_object('t', (array_agg(l.created_at))[count(*)], 'id', (array_agg(l.id))[count(*)])
            end end)
    from public.dashboard_export_lines(p_start, p_end, p_assistant_ids, p_languages, p_statuses, p_search, p_phrase,
                                       p_after, least(greatest(coalesce(p_limit, 5000), 1), 100000), true) l
$$;

-- Every number of the stats screen (lib.models.Stats), counted by the database in one statement: totals, calls
-- per day and status, per language, per assistant (named by assistants.name when known), intents created per
-- week (Monday) in the period.  Whole UTC days without a phrase search count from the daily rollups: the
-- per-day figures from the narrowest one with every filtered column (per day/language/status unless
-- assistants are chosen), the per-assistant ones likewise (per day/assistant unless languages or statuses
-- are); the filter's predicate names the rollups' columns as the calls' (user_id, assistant_id, language, status).
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
begin
    if coalesce(p_search, '') = '' and p_phrase is null
       and (p_start is null or p_start = date_trunc('day', p_start))
       and (p_end is null or p_end = date_trunc('day', p_end)) then
        w := public.dashboard_tests_where(uid, null, null, p_assistant_ids, p_languages, p_statuses, null, null)
             || case when p_start is not null then format(' and t.day >= %L::date', p_start::date) else '' end
             || case when p_end is not null then format(' and t.day < %L::date', p_end::date) else '' end;
        per_day := format('select t.day, %s as language, %s as status, t.tests as n from public.%I t where %s',
                          lang, status, case when coalesce(cardinality(p_assistant_ids), 0) = 0
                                             then 'assistant_test_daily_status' else 'assistant_test_daily' end, w);
        per_assistant := format('select t.assistant_id, t.tests as n from public.%I t where %s',
                                case when coalesce(cardinality(p_languages), 0) = 0
                                          and coalesce(cardinality(p_statuses), 0) = 0
                                     then 'assistant_test_daily_assistant' else 'assistant_test_daily' end, w);
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

-- The phrases and assistants whose calls fail most in a period (the filter's statuses and exact phrase do not
-- apply: they are what a row of the drill-down sets): {"phrases": [{key, name, total, failed, cancelled}],
-- "assistants": [...]}, most failed + cancelled first (then by key), p_limit rows each, only groups with a failure.
create or replace function public.dashboard_failure_drilldown(
    p_start timestamp default null, p_end timestamp default null, p_assistant_ids text[] default null,
    p_languages text[] default null, p_search text default null, p_limit int default 10
) returns jsonb
language plpgsql stable
set search_path = ''
as $$
declare
    uid text := public.dashboard_uid();
    lim int := least(greatest(coalesce(p_limit, 10), 1), 100);
    groups constant text := 'select %1$s as key, count(*) as total, count(*) filter (where s = ''failed'') as failed, '
        'count(*) filter (where s = ''cancelled'') as cancelled from (select t.*, coalesce(nullif(t.status, ''''), '
        '''initiated'') as s from public.assistant_tests t where %2$s) t group by 1 '
        'having count(*) filter (where s in (''failed'', ''cancelled'')) > 0 '
        'order by count(*) filter (where s in (''failed'', ''cancelled'')) desc, 1 limit %3$s';
    w text := public.dashboard_tests_where(uid, p_start, p_end, p_assistant_ids, p_languages, null, p_search, null);
    phrases jsonb;
    assistants jsonb;
begin
    execute format('select coalesce(jsonb_agg(jsonb_build_object(''key'', g.key, ''name'', g.key, ''total'', g.total, '
                   '''failed'', g.failed, ''cancelled'', g.cancelled) order by g.failed + g.cancelled desc, g.key), '
                   '''[]'') from (' || groups || ') g', 't.test_phrase', w, lim)
    into phrases;
    execute format('select coalesce(jsonb_agg(jsonb_build_object(''key'', g.key, ''name'', s.name, ''total'', g.total, '
                   '''failed'', g.failed, ''cancelled'', g.cancelled) order by g.failed + g.cancelled desc, g.key), '
                   '''[]'') from (' || groups || ') g left join public.assistants s on s.user_id = %4$L '
                   'and s.vapi_assistant_id = g.key', 't.assistant_id', w, lim, uid)
    into assistants;
    return jsonb_build_object('phrases', phrases, 'assistants', assistants);
end
$$;

-- Only a signed-in user may call these (Supabase's default privileges grant every new function to anon and
-- service_role too).  The helpers are internal but harmless: each answers only about the caller.
do $$
declare f regprocedure;
begin
    for f in select p.oid::regprocedure from pg_proc p
             where p.pronamespace = 'public'::regnamespace and p.proname like 'dashboard\_%'
    loop
        execute format('revoke all on function %s from public, anon, service_role', f);
        execute format('grant execute on function %s to authenticated', f);
    end loop;
end
$$;
