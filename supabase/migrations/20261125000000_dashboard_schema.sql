-- Dashboard schema: five tables, every row owned by a Clerk user id.
--
-- Follows ../shared/seeds (the schema reference) exactly; additions, each listed in README.md:
--   * defaults: ids gen_random_uuid(), created_at/updated_at now() in UTC, arrays '{}', config '{}';
--   * intents.updated_at (the intents grid uses it to detect concurrent edits);
--   * idx_assistant_tests_user_assistant_created (tests filtered/grouped by assistant stay indexed);
--   * row-level security for role authenticated on (auth.jwt()->>'sub') = user_id;
--   * dashboard_* functions so that the Supabase REST backend gets aggregates and the
--     all-or-nothing grid save from the database in one request.
--
-- Applies on Supabase (`supabase db push`) and on a plain PostgreSQL that has the roles
-- anon, authenticated, service_role and a function auth.jwt() (the test suite creates that shim).

create table if not exists public.subscriptions (
    id uuid primary key default gen_random_uuid(),
    user_id varchar(255) not null unique,
    stripe_customer_id varchar(255),
    stripe_subscription_id varchar(255),
    status varchar(50),
    plan_type varchar(20),
    billing_cycle varchar(10),
    current_period_start timestamp,
    current_period_end timestamp,
    created_at timestamp default timezone('utc', now()),
    updated_at timestamp default timezone('utc', now())
);
create index if not exists idx_subscriptions_user_id on public.subscriptions (user_id);

create table if not exists public.intents (
    id uuid primary key default gen_random_uuid(),
    user_id varchar(255) not null,
    intent_name text not null,
    example_user_phrases text[] not null default '{}',
    english_responses text[] not null default '{}',
    russian_responses text[] not null default '{}',
    created_at timestamp default timezone('utc', now()),
    updated_at timestamp default timezone('utc', now())
);
create index if not exists idx_intents_user_id on public.intents (user_id);
create index if not exists idx_intents_user_created on public.intents (user_id, created_at desc);

create table if not exists public.assistant_settings (
    user_id varchar(255) not null,
    is_active boolean default true,
    created_at timestamp default now(),
    updated_at timestamp default now(),
    -- the seed lists the primary key's index as idx_assistant_settings_user_id
    constraint idx_assistant_settings_user_id primary key (user_id)
);

create table if not exists public.assistants (
    id uuid primary key default gen_random_uuid(),
    user_id varchar(255) not null,
    vapi_assistant_id varchar(255) not null,
    name varchar(255) not null,
    config jsonb not null default '{}'::jsonb,
    intents_used uuid[] not null default '{}',
    created_at timestamp default timezone('utc', now()),
    updated_at timestamp default timezone('utc', now()),
    unique (user_id, vapi_assistant_id)
);
create index if not exists idx_assistants_user_id on public.assistants (user_id);
create index if not exists idx_assistants_user_created on public.assistants (user_id, created_at);

create table if not exists public.assistant_tests (
    id uuid primary key default gen_random_uuid(),
    user_id varchar(255) not null,
    assistant_id varchar(255) not null,
    test_phrase text not null,
    language varchar(50) default 'english',
    call_id varchar(255),
    status varchar(50) default 'initiated',
    created_at timestamp default timezone('utc', now()),
    updated_at timestamp default timezone('utc', now())
);
create index if not exists idx_assistant_tests_user_id on public.assistant_tests (user_id);
create index if not exists idx_assistant_tests_user_created on public.assistant_tests (user_id, created_at);
create index if not exists idx_assistant_tests_user_assistant_created
    on public.assistant_tests (user_id, assistant_id, created_at);

-- Daily rollups of test calls, kept by triggers: the stats and tests screens count from them, so
-- they stay fast with a million test calls.  assistant_test_daily has every dimension the filters use
-- (a day's rows per assistant/language/status); the two narrower ones answer the common questions
-- with fewer rows: per day/language/status when no assistant is chosen, per assistant when no
-- language or status is.  day is created_at's UTC date ('0001-01-01' when created_at is null); a null
-- language or status is stored as '' (filters match the calls' own values; the screens show '' as
-- 'english'/'initiated').  Derived data: users may read their own rows; only the trigger writes.
create table if not exists public.assistant_test_daily (
    user_id varchar(255) not null,
    day date not null,
    assistant_id varchar(255) not null,
    language varchar(50) not null,
    status varchar(50) not null,
    tests bigint not null default 0,
    constraint assistant_test_daily_pkey primary key (user_id, day, assistant_id, language, status)
);
create table if not exists public.assistant_test_daily_status (
    user_id varchar(255) not null,
    day date not null,
    language varchar(50) not null,
    status varchar(50) not null,
    tests bigint not null default 0,
    constraint assistant_test_daily_status_pkey primary key (user_id, day, language, status)
);
create table if not exists public.assistant_test_daily_assistant (
    user_id varchar(255) not null,
    day date not null,
    assistant_id varchar(255) not null,
    tests bigint not null default 0,
    constraint assistant_test_daily_assistant_pkey primary key (user_id, day, assistant_id)
);

-- One statement's inserted, updated or deleted calls, added to (or taken from) every rollup.
create or replace function public.assistant_test_daily_sync() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
    src record;
    rollup record;
begin
    for src in select * from (values ('old_rows', -1, tg_op in ('DELETE', 'UPDATE')),
                                     ('new_rows', 1, tg_op in ('INSERT', 'UPDATE'))) v(rel, sign, used)
               where used
    loop
        for rollup in select * from (values
            ('assistant_test_daily', 'user_id, day, assistant_id, language, status'),
            ('assistant_test_daily_status', 'user_id, day, language, status'),
            ('assistant_test_daily_assistant', 'user_id, day, assistant_id')) r(tbl, keys)
        loop
            execute format(
                'insert into public.%1$I as d (%2$s, tests) select %2$s, %3$s * count(*) from ('
                'select user_id, coalesce(created_at::date, date ''0001-01-01'') as day, assistant_id, '
                'coalesce(language, '''') as language, coalesce(status, '''') as status from %4$I) t '
                'group by %2$s on conflict (%2$s) do update set tests = d.tests + excluded.tests',
                rollup.tbl, rollup.keys, src.sign, src.rel);
        end loop;
    end loop;
    return null;
end
$$;
revoke all on function public.assistant_test_daily_sync() from public, anon, authenticated;

drop trigger if exists assistant_tests_daily_insert on public.assistant_tests;
drop trigger if exists assistant_tests_daily_update on public.assistant_tests;
drop trigger if exists assistant_tests_daily_delete on public.assistant_tests;
create trigger assistant_tests_daily_insert after insert on public.assistant_tests
    referencing new table as new_rows for each statement execute function public.assistant_test_daily_sync();
create trigger assistant_tests_daily_update after update on public.assistant_tests
    referencing old table as old_rows new table as new_rows
    for each statement execute function public.assistant_test_daily_sync();
create trigger assistant_tests_daily_delete after delete on public.assistant_tests
    referencing old table as old_rows for each statement execute function public.assistant_test_daily_sync();

-- Backfill once, for a project that already has test calls.
insert into public.assistant_test_daily (user_id, day, assistant_id, language, status, tests)
select user_id, coalesce(created_at::date, date '0001-01-01'), assistant_id, coalesce(language, ''),
       coalesce(status, ''), count(*)
from public.assistant_tests
where not exists (select 1 from public.assistant_test_daily)
group by 1, 2, 3, 4, 5;
insert into public.assistant_test_daily_status (user_id, day, language, status, tests)
select user_id, day, language, status, sum(tests) from public.assistant_test_daily
where not exists (select 1 from public.assistant_test_daily_status)
group by 1, 2, 3, 4;
insert into public.assistant_test_daily_assistant (user_id, day, assistant_id, tests)
select user_id, day, assistant_id, sum(tests) from public.assistant_test_daily
where not exists (select 1 from public.assistant_test_daily_assistant)
group by 1, 2, 3;

-- Row-level security: a signed-in user (role authenticated, Clerk token) reaches only own rows.
-- anon gets no policy and no privilege; service_role bypasses RLS (server-side key).
do $$
declare t text;
begin
    foreach t in array array['subscriptions', 'intents', 'assistant_settings', 'assistants', 'assistant_tests',
                             'assistant_test_daily', 'assistant_test_daily_status', 'assistant_test_daily_assistant']
    loop
        execute format('alter table public.%I enable row level security', t);
        execute format('drop policy if exists %I on public.%I', t || '_owner', t);
        execute format(
            'create policy %I on public.%I as permissive for all to authenticated '
            'using ((select auth.jwt() ->> ''sub'') = user_id) '
            'with check ((select auth.jwt() ->> ''sub'') = user_id)',
            t || '_owner', t);
        execute format('revoke all on public.%I from anon', t);
        execute format('grant select, insert, update, delete on public.%I to authenticated, service_role', t);
    end loop;
end
$$;
revoke insert, update, delete on public.assistant_test_daily, public.assistant_test_daily_status,
    public.assistant_test_daily_assistant from authenticated, service_role;

-- The dashboard_* functions give the Supabase REST backend what one PostgREST request cannot:
-- aggregates counted by the database and the grid's all-or-nothing save.  They run with the
-- caller's rights (RLS applies to authenticated callers) and an empty search_path.
-- p_user_id is checked against the caller's token when the caller is authenticated.
create or replace function public.dashboard_check_user(p_user_id text) returns void
language plpgsql stable
set search_path = ''
as $$
begin
    if current_user = 'authenticated' and coalesce(auth.jwt() ->> 'sub', '') <> p_user_id then
        raise exception 'user mismatch' using errcode = '42501';
    end if;
end
$$;

-- Every number of the stats screen for one user, with the tests screen's filters (lib.models.TestFilter):
-- p_start inclusive, p_end exclusive (naive UTC); an empty or null array means "any"; p_search is a
-- case-insensitive literal substring of test_phrase (%, _ and \ match themselves).
-- Same semantics as SqlUserStore.stats: status null counts as 'initiated', language null as
-- 'english', an assistant is named by assistants.name on (user_id, vapi_assistant_id) when known,
-- weeks start on Monday.
drop function if exists public.dashboard_stats(text, timestamp, timestamp);
create or replace function public.dashboard_stats(
    p_user_id text,
    p_start timestamp default null,
    p_end timestamp default null,
    p_assistant_ids text[] default null,
    p_languages text[] default null,
    p_statuses text[] default null,
    p_search text default null
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
    use_rollup := pattern is null
        and (p_start is null or p_start = date_trunc('day', p_start))
        and (p_end is null or p_end = date_trunc('day', p_end));
    with src as (
        select r.day, r.assistant_id, r.language, r.status, r.tests as n
        from public.assistant_test_daily r
        where use_rollup and r.user_id = p_user_id
          and (p_start is null or r.day >= p_start::date)
          and (p_end is null or r.day < p_end::date)
          and (coalesce(cardinality(p_assistant_ids), 0) = 0 or r.assistant_id = any(p_assistant_ids))
          and (coalesce(cardinality(p_languages), 0) = 0 or r.language = any(p_languages))
          and (coalesce(cardinality(p_statuses), 0) = 0 or r.status = any(p_statuses))
        union all
        select coalesce(t.created_at::date, date '0001-01-01'), t.assistant_id, coalesce(t.language, ''),
               coalesce(t.status, ''), 1
        from public.assistant_tests t
        where not use_rollup and t.user_id = p_user_id
          and (p_start is null or t.created_at >= p_start)
          and (p_end is null or t.created_at < p_end)
          and (coalesce(cardinality(p_assistant_ids), 0) = 0 or t.assistant_id = any(p_assistant_ids))
          and (coalesce(cardinality(p_languages), 0) = 0 or t.language = any(p_languages))
          and (coalesce(cardinality(p_statuses), 0) = 0 or t.status = any(p_statuses))
          and (pattern is null or t.test_phrase ilike pattern escape '\')
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
                  from public.intents where user_id = p_user_id and created_at is not null group by 1) w),
            '[]'::jsonb)
    ) into result;
    return result;
end
$$;

-- The intents grid's save: added, edited and deleted rows in one transaction, all or nothing.
-- An edited or deleted row whose updated_at differs from the one the grid loaded (or that is gone)
-- is a conflict: nothing is written and the conflicting ids are reported, deleted rows first, each
-- group in the order given (SQLSTATE 40001, detail = JSON list of ids).  The rows are locked before
-- they are compared, so a concurrent save cannot slip in between the check and the write.
create or replace function public.dashboard_save_intents(
    p_user_id text, p_added jsonb default '[]', p_edited jsonb default '[]', p_deleted jsonb default '[]'
) returns jsonb
language plpgsql volatile
set search_path = ''
as $$
declare
    conflicts jsonb;
    n_added int; n_edited int; n_deleted int;
    now_utc timestamp := timezone('utc', clock_timestamp());
begin
    perform public.dashboard_check_user(p_user_id);
    perform 1 from public.intents i
    where i.user_id = p_user_id
      and i.id in (select (e->>'id')::uuid from jsonb_array_elements(p_edited || p_deleted) e)
    order by i.id
    for update;

    select coalesce(jsonb_agg(x.id order by x.grp, x.ord), '[]'::jsonb) into conflicts
    from (
        select 0 as grp, d.ord, d.e->>'id' as id, (d.e->>'updated_at')::timestamp as seen
        from jsonb_array_elements(p_deleted) with ordinality as d(e, ord)
        union all
        select 1, d.ord, d.e->>'id', (d.e->>'updated_at')::timestamp
        from jsonb_array_elements(p_edited) with ordinality as d(e, ord)
    ) x
    left join public.intents i on i.id = (x.id)::uuid and i.user_id = p_user_id
    where i.id is null or i.updated_at is distinct from x.seen;
    if jsonb_array_length(conflicts) > 0 then
        raise exception 'conflict' using errcode = '40001', detail = conflicts::text;
    end if;

    delete from public.intents i
    using jsonb_array_elements(p_deleted) e
    where i.user_id = p_user_id and i.id = (e->>'id')::uuid;
    get diagnostics n_deleted = row_count;

    update public.intents i set
        intent_name = e->>'intent_name',
        example_user_phrases = array(select jsonb_array_elements_text(e->'example_user_phrases')),
        english_responses = array(select jsonb_array_elements_text(e->'english_responses')),
        russian_responses = array(select jsonb_array_elements_text(e->'russian_responses')),
        updated_at = now_utc
    from jsonb_array_elements(p_edited) e
    where i.user_id = p_user_id and i.id = (e->>'id')::uuid;
    get diagnostics n_edited = row_count;

    insert into public.intents (user_id, intent_name, example_user_phrases, english_responses,
                                russian_responses, created_at, updated_at)
    select p_user_id, e->>'intent_name',
           array(select jsonb_array_elements_text(e->'example_user_phrases')),
           array(select jsonb_array_elements_text(e->'english_responses')),
           array(select jsonb_array_elements_text(e->'russian_responses')),
           now_utc, now_utc
    from jsonb_array_elements(p_added) with ordinality as a(e, ord)
    order by a.ord;
    get diagnostics n_added = row_count;

    return jsonb_build_object('added', n_added, 'edited', n_edited, 'deleted', n_deleted);
end
$$;

revoke all on function public.dashboard_check_user(text) from public, anon;
revoke all on function public.dashboard_stats(text, timestamp, timestamp, text[], text[], text[], text) from public, anon;
revoke all on function public.dashboard_save_intents(text, jsonb, jsonb, jsonb) from public, anon;
grant execute on function public.dashboard_check_user(text) to authenticated, service_role;
grant execute on function public.dashboard_stats(text, timestamp, timestamp, text[], text[], text[], text)
    to authenticated, service_role;
grant execute on function public.dashboard_save_intents(text, jsonb, jsonb, jsonb) to authenticated, service_role;
