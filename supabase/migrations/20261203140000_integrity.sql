-- Integrity and tenancy (issue 18): nothing another writer does is lost, nothing one user does reaches another.
--
-- 1. Row versions.  intents and assistant_settings (the tables the dashboard edits) get row_version, kept by a
--    BEFORE UPDATE trigger for every writer: every UPDATE, whatever it sets, advances it (a value the writer
--    sets is ignored), and an UPDATE that leaves updated_at alone gets updated_at = now (UTC).  Existing rows
--    start at 1.  dashboard_intents lists it as "version"; dashboard_save_intents refuses an edited or deleted
--    row whose version moved since the grid loaded it (40001), so a plain UPDATE by the web app, one that sets
--    updated_at itself, or a DELETE is a conflict, never overwritten.  History records keep it, and undo
--    refuses when it moved.
-- 2. Names unique per user, trimmed and case-insensitive (lower(btrim)), for every writer: name_key, set by a
--    BEFORE INSERT/UPDATE trigger on every new row and every rename, unique per user (a unique index).  Rows
--    that already shared a name keep name_key null, except the oldest of each group (grandfathered: readable
--    and renamable as before; a rename gives the row a key).  The trigger also refuses a new name that a
--    grandfathered row holds, and serialises one user's new names on a transaction advisory lock, so two
--    concurrent saves of the same new name cannot both pass: the second is refused with 23505, detail = the
--    name as JSON, hint 'intent_name_taken' (the unique index is the backstop for any other way in).
-- 3. History integrity: a record may revert only a record of the same user that the writer can see
--    (a BEFORE INSERT trigger under RLS, before the foreign key is checked), so another user's record id
--    and a missing one get the same P0002.  Saves carry their token (intent_history.token, unique per user):
--    a retried save whose record exists is answered {"repeat": true, "undone": ...} and applied no second time.
-- 4. Change versions per user: user_data_versions counts each (user, table) on its own (+1 per statement),
--    so a user's versions say nothing about other users' writes; the sequence is no longer used.  TRUNCATE
--    advances, before it empties the table, every user who had rows in it (a version row or not).
-- 5. assistants.intents_used follows an intent's id when it changes, drops it when the intent moves to another
--    user, and is emptied when intents is truncated (delete: intents_forget_deleted, as before).
-- 6. Sign-in throttle in the database (signin_attempts, dashboard_signin_reserve): each attempt is counted,
--    atomically, before its password is checked, per username and per client address, across replicas.

-- == 1. row versions =============================================================================================

alter table public.intents add column if not exists row_version bigint not null default 1;
alter table public.assistant_settings add column if not exists row_version bigint not null default 1;

create or replace function public.row_version_advance() returns trigger
language plpgsql
set search_path = ''
as $$
begin
    new.row_version := old.row_version + 1;
    if new.updated_at is not distinct from old.updated_at then
        new.updated_at := timezone('utc', clock_timestamp());
    end if;
    return new;
end
$$;
revoke all on function public.row_version_advance() from public, anon, authenticated;

drop trigger if exists intents_row_version on public.intents;
create trigger intents_row_version before update on public.intents
    for each row execute function public.row_version_advance();
drop trigger if exists assistant_settings_row_version on public.assistant_settings;
create trigger assistant_settings_row_version before update on public.assistant_settings
    for each row execute function public.row_version_advance();

-- An intent's values as a history record keeps them (and dashboard_intents lists them), with its row version.
create or replace function public.intent_history_values(i public.intents) returns jsonb
language sql immutable strict
set search_path = ''
as $$
    select jsonb_build_object(
        'intent_name', i.intent_name,
        'example_user_phrases', to_jsonb(i.example_user_phrases),
        'english_responses', to_jsonb(i.english_responses),
        'russian_responses', to_jsonb(i.russian_responses),
        'created_at', i.created_at,
        'updated_at', i.updated_at,
        'version', i.row_version)
$$;

-- == 2. unique names =============================================================================================

create or replace function public.intent_name_key(p_name text) returns text
language sql immutable strict
set search_path = ''
as $$
    select lower(btrim(p_name, E' \t\r\n\f\v'))
$$;

alter table public.intents add column if not exists name_key text;
-- existing rows: each name's oldest row keeps the key, later duplicates are grandfathered (null)
update public.intents i set name_key = k.key
from (select id, public.intent_name_key(intent_name) as key,
             row_number() over (partition by user_id, public.intent_name_key(intent_name)
                                order by created_at nulls last, id) as n
      from public.intents) k
where i.id = k.id and k.n = 1 and i.name_key is distinct from k.key;
create unique index if not exists idx_intents_user_name_key on public.intents (user_id, name_key);
-- the grandfathered rows, by their name's key: what a new name is checked against besides the unique index
create index if not exists idx_intents_grandfathered_names on public.intents (user_id, public.intent_name_key(intent_name))
    where name_key is null;

create or replace function public.intents_name_key() returns trigger
language plpgsql
set search_path = ''
as $$
declare
    k text := public.intent_name_key(new.intent_name);
begin
    if tg_op = 'UPDATE' and new.user_id = old.user_id and k = public.intent_name_key(old.intent_name) then
        new.name_key := old.name_key;  -- the same name (perhaps a grandfathered duplicate): left as it was
        return new;
    end if;
    -- one user's new names one transaction at a time: a concurrent save of the same name waits, then sees it
    perform pg_advisory_xact_lock(hashtextextended('public.intents.name_key:' || new.user_id, 0));
    if exists (select 1 from public.intents i
               where i.user_id = new.user_id and i.id <> new.id and i.name_key = k)
       or exists (select 1 from public.intents i
                  where i.user_id = new.user_id and i.id <> new.id and i.name_key is null
                    and public.intent_name_key(i.intent_name) = k) then
        raise exception 'another intent of this user is named %', new.intent_name
            using errcode = '23505', detail = to_jsonb(new.intent_name)::text, hint = 'intent_name_taken';
    end if;
    new.name_key := k;
    return new;
end
$$;
revoke all on function public.intents_name_key() from public, anon, authenticated;

drop trigger if exists intents_name_key on public.intents;
create trigger intents_name_key before insert or update on public.intents
    for each row execute function public.intents_name_key();

-- == 3. history integrity ========================================================================================

alter table public.intent_history add column if not exists token uuid;
create unique index if not exists idx_intent_history_user_token on public.intent_history (user_id, token)
    where token is not null;

-- A record may revert only a record of its own user that the writer can see (RLS applies: security invoker),
-- checked before the foreign key, so another user's record id and a missing one are refused alike.
create or replace function public.intent_history_check_reverts() returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if new.reverts is not null and not exists (
        select 1 from public.intent_history h where h.id = new.reverts and h.user_id = new.user_id) then
        raise exception 'no such save' using errcode = 'P0002';
    end if;
    return new;
end
$$;
revoke all on function public.intent_history_check_reverts() from public, anon, authenticated;

drop trigger if exists intent_history_check_reverts on public.intent_history;
create trigger intent_history_check_reverts before insert or update on public.intent_history
    for each row execute function public.intent_history_check_reverts();

drop function if exists public.dashboard_save_intents(jsonb, jsonb, jsonb, timestamp, text);

-- The grid's save in one transaction, all or nothing, with its history record.  Added rows carry ids made by
-- the caller (a retry finds them: 23505), edited and deleted rows the version the caller saw ("version"; without
-- one, the updated_at it saw): a row changed since, or gone, refuses the whole save (40001, detail = the ids as a
-- JSON array).  p_token: the caller's save token; a save whose token has a record already is not applied again:
-- {"repeat": true, "history_id", "undone": whether it was undone since} (22023 if that record names other rows).
-- A name another intent of the user has: 23505, hint 'intent_name_taken', detail the name (trigger).
create or replace function public.dashboard_save_intents(
    p_added jsonb default '[]', p_edited jsonb default '[]', p_deleted jsonb default '[]',
    p_at timestamp default null, p_kind text default 'grid', p_token uuid default null
) returns jsonb
language plpgsql volatile
set search_path = ''
as $$
declare
    uid text := public.dashboard_uid();
    conflicts jsonb;
    before jsonb;
    history_id uuid;
    prior public.intent_history;
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

    if p_token is not null then
        select * into prior from public.intent_history h where h.user_id = uid and h.token = p_token;
        if found then
            if (select coalesce(array_agg(c->>'id' order by c->>'id'), '{}') from jsonb_array_elements(prior.changes) c)
               is distinct from
               (select coalesce(array_agg(e->>'id' order by e->>'id'), '{}')
                from jsonb_array_elements(p_added || p_edited || p_deleted) e) then
                raise exception 'this save token was used for other edits' using errcode = '22023';
            end if;
            return jsonb_build_object(
                'added', jsonb_array_length(p_added), 'edited', jsonb_array_length(p_edited),
                'deleted', jsonb_array_length(p_deleted), 'history_id', prior.id, 'repeat', true,
                'undone', exists (select 1 from public.intent_history u where u.reverts = prior.id));
        end if;
    end if;

    -- lock the touched rows in id order (concurrent saves cannot deadlock) and keep their values
    select coalesce(jsonb_object_agg(l.id::text, public.intent_history_values(l.r)), '{}'::jsonb) into before
    from (select i.id, i as r from public.intents i
          where i.user_id = uid
            and i.id in (select (e->>'id')::uuid from jsonb_array_elements(p_edited || p_deleted) e)
          order by i.id
          for update) l;

    select coalesce(jsonb_agg(x.id order by x.grp, x.ord), '[]'::jsonb) into conflicts
    from (
        select 0 as grp, d.ord, d.e->>'id' as id, (d.e->>'updated_at')::timestamp as seen,
               (d.e->>'version')::bigint as version
        from jsonb_array_elements(p_deleted) with ordinality as d(e, ord)
        union all
        select 1, d.ord, d.e->>'id', (d.e->>'updated_at')::timestamp, (d.e->>'version')::bigint
        from jsonb_array_elements(p_edited) with ordinality as d(e, ord)
    ) x
    left join public.intents i on i.id = (x.id)::uuid and i.user_id = uid
    where i.id is null
       or case when x.version is not null then i.row_version <> x.version
               else i.updated_at is distinct from x.seen end;
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
    insert into public.intent_history (user_id, created_at, kind, changes, token)
    select uid, now_utc, p_kind, coalesce(jsonb_agg(jsonb_build_object(
               'id', c.id, 'before', before -> c.id, 'after', public.intent_history_values(i))
               order by c.grp, c.ord), '[]'::jsonb), p_token
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

-- Undo one save: its touched intents must be exactly as it left them, written by nobody since (else 40001: detail
-- = the changed ids, hint = {id: name} of the record's intents); then they are put back exactly as before it,
-- times included (a deleted intent returns with a row version past the one it had).  P0002: no such record of
-- this user; 23505: undone already; 23505 with hint 'intent_name_taken' (detail: the name): a name it would
-- bring back is another intent's now.  The undo's record: kind 'undo', created_at p_at.
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

    -- as the save left them: its after values, and no write since but the records' own (this one, later saves
    -- and their undos): the row version is the one the latest record touching it wrote
    with latest as (
        select distinct on (x->>'id') x->>'id' as id, (x->'after'->>'version')::bigint as version
        from public.intent_history h cross join lateral jsonb_array_elements(h.changes) x
        where h.user_id = uid and h.created_at >= rec.created_at
        order by x->>'id', h.created_at desc, h.id desc)
    select coalesce(jsonb_agg(c.e->>'id' order by c.ord), '[]'::jsonb) into conflicts
    from jsonb_array_elements(rec.changes) with ordinality as c(e, ord)
    left join public.intents i on i.id = (c.e->>'id')::uuid and i.user_id = uid
    left join latest l on l.id = c.e->>'id'
    where not public.intent_history_matches(i, c.e->'after')
       or (i.id is not null and i.row_version is distinct from coalesce(l.version, i.row_version));
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
                                russian_responses, created_at, updated_at, row_version)
    select (c.e->>'id')::uuid, uid, c.e->'before'->>'intent_name',
           array(select jsonb_array_elements_text(c.e->'before'->'example_user_phrases')),
           array(select jsonb_array_elements_text(c.e->'before'->'english_responses')),
           array(select jsonb_array_elements_text(c.e->'before'->'russian_responses')),
           (c.e->'before'->>'created_at')::timestamp, (c.e->'before'->>'updated_at')::timestamp,
           coalesce((c.e->'before'->>'version')::bigint, 0) + 1
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

-- == 4. change versions per user =================================================================================

-- One statement's users, each once and in order, get their next version for the statement's table.
create or replace function public.user_data_versions_bump() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
    if tg_op = 'INSERT' then
        insert into public.user_data_versions as v (user_id, topic, version)
        select u.user_id, tg_table_name, 1
        from (select distinct user_id from new_rows order by 1) u
        on conflict (user_id, topic) do update set version = v.version + 1;
    elsif tg_op = 'DELETE' then
        insert into public.user_data_versions as v (user_id, topic, version)
        select u.user_id, tg_table_name, 1
        from (select distinct user_id from old_rows order by 1) u
        on conflict (user_id, topic) do update set version = v.version + 1;
    elsif tg_op = 'UPDATE' then
        insert into public.user_data_versions as v (user_id, topic, version)
        select u.user_id, tg_table_name, 1
        from (select user_id from old_rows union select user_id from new_rows order by 1) u
        on conflict (user_id, topic) do update set version = v.version + 1;
    end if;
    return null;
end
$$;
revoke all on function public.user_data_versions_bump() from public, anon, authenticated;

-- Before a TRUNCATE empties a table: every user with rows in it, whether they have a version row yet or not.
create or replace function public.user_data_versions_truncate() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
    execute format('insert into public.user_data_versions as v (user_id, topic, version) '
                   'select u.user_id, %L, 1 from (select distinct user_id from %I.%I order by 1) u '
                   'on conflict (user_id, topic) do update set version = v.version + 1',
                   tg_table_name, tg_table_schema, tg_table_name);
    return null;
end
$$;
revoke all on function public.user_data_versions_truncate() from public, anon, authenticated;

do $$
declare t text;
begin
    foreach t in array array['subscriptions', 'intents', 'assistant_settings', 'assistants', 'intent_history',
                             'assistant_tests']
    loop
        execute format('drop trigger if exists %I on public.%I', t || '_version_truncate', t);
        execute format('create trigger %I before truncate on public.%I '
                       'for each statement execute function public.user_data_versions_truncate()',
                       t || '_version_truncate', t);
    end loop;
end
$$;

-- The rollups of 20261127100000 with the per-user version (the last statement of each).
create or replace function public.assistant_test_daily_insert() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
    insert into public.assistant_test_daily as d (user_id, day, assistant_id, language, status, tests)
    select user_id, coalesce(created_at::date, date '0001-01-01'), assistant_id, coalesce(language, ''),
           coalesce(status, ''), count(*)
    from new_rows group by 1, 2, 3, 4, 5 order by 1, 2, 3, 4, 5
    on conflict (user_id, day, assistant_id, language, status) do update set tests = d.tests + excluded.tests;
    insert into public.assistant_test_daily_assistant as d (user_id, day, assistant_id, tests)
    select user_id, coalesce(created_at::date, date '0001-01-01'), assistant_id, count(*)
    from new_rows group by 1, 2, 3 order by 1, 2, 3
    on conflict (user_id, day, assistant_id) do update set tests = d.tests + excluded.tests;
    insert into public.assistant_test_daily_status as d (user_id, day, language, status, tests)
    select user_id, coalesce(created_at::date, date '0001-01-01'), coalesce(language, ''), coalesce(status, ''), count(*)
    from new_rows group by 1, 2, 3, 4 order by 1, 2, 3, 4
    on conflict (user_id, day, language, status) do update set tests = d.tests + excluded.tests;
    insert into public.user_data_versions as v (user_id, topic, version)
    select user_id, 'assistant_tests', 1
    from (select distinct user_id from new_rows order by 1) u
    on conflict (user_id, topic) do update set version = v.version + 1;
    return null;
end
$$;

create or replace function public.assistant_test_daily_delete() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
    insert into public.assistant_test_daily as d (user_id, day, assistant_id, language, status, tests)
    select user_id, coalesce(created_at::date, date '0001-01-01'), assistant_id, coalesce(language, ''),
           coalesce(status, ''), -count(*)
    from old_rows group by 1, 2, 3, 4, 5 order by 1, 2, 3, 4, 5
    on conflict (user_id, day, assistant_id, language, status) do update set tests = d.tests + excluded.tests;
    insert into public.assistant_test_daily_assistant as d (user_id, day, assistant_id, tests)
    select user_id, coalesce(created_at::date, date '0001-01-01'), assistant_id, -count(*)
    from old_rows group by 1, 2, 3 order by 1, 2, 3
    on conflict (user_id, day, assistant_id) do update set tests = d.tests + excluded.tests;
    insert into public.assistant_test_daily_status as d (user_id, day, language, status, tests)
    select user_id, coalesce(created_at::date, date '0001-01-01'), coalesce(language, ''), coalesce(status, ''), -count(*)
    from old_rows group by 1, 2, 3, 4 order by 1, 2, 3, 4
    on conflict (user_id, day, language, status) do update set tests = d.tests + excluded.tests;
    insert into public.user_data_versions as v (user_id, topic, version)
    select user_id, 'assistant_tests', 1
    from (select distinct user_id from old_rows order by 1) u
    on conflict (user_id, topic) do update set version = v.version + 1;
    return null;
end
$$;

-- An update moves calls between keys: the net change per key of each rollup, zero changes dropped.  The
-- webhooks' most frequent statement (a status change of one call): one pass over the transition tables per
-- rollup, as before.
create or replace function public.assistant_test_daily_update() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
    insert into public.assistant_test_daily as d (user_id, day, assistant_id, language, status, tests)
    select user_id, day, assistant_id, language, status, sum(n) from (
        select user_id, coalesce(created_at::date, date '0001-01-01') as day, assistant_id,
               coalesce(language, '') as language, coalesce(status, '') as status, -1 as n from old_rows
        union all
        select user_id, coalesce(created_at::date, date '0001-01-01'), assistant_id, coalesce(language, ''),
               coalesce(status, ''), 1 from new_rows) c
    group by 1, 2, 3, 4, 5 having sum(n) <> 0 order by 1, 2, 3, 4, 5
    on conflict (user_id, day, assistant_id, language, status) do update set tests = d.tests + excluded.tests;
    insert into public.assistant_test_daily_assistant as d (user_id, day, assistant_id, tests)
    select user_id, day, assistant_id, sum(n) from (
        select user_id, coalesce(created_at::date, date '0001-01-01') as day, assistant_id, -1 as n from old_rows
        union all
        select user_id, coalesce(created_at::date, date '0001-01-01'), assistant_id, 1 from new_rows) c
    group by 1, 2, 3 having sum(n) <> 0 order by 1, 2, 3
    on conflict (user_id, day, assistant_id) do update set tests = d.tests + excluded.tests;
    insert into public.assistant_test_daily_status as d (user_id, day, language, status, tests)
    select user_id, day, language, status, sum(n) from (
        select user_id, coalesce(created_at::date, date '0001-01-01') as day, coalesce(language, '') as language,
               coalesce(status, '') as status, -1 as n from old_rows
        union all
        select user_id, coalesce(created_at::date, date '0001-01-01'), coalesce(language, ''), coalesce(status, ''), 1
        from new_rows) c
    group by 1, 2, 3, 4 having sum(n) <> 0 order by 1, 2, 3, 4
    on conflict (user_id, day, language, status) do update set tests = d.tests + excluded.tests;
    insert into public.user_data_versions as v (user_id, topic, version)
    select user_id, 'assistant_tests', 1
    from (select user_id from old_rows union select user_id from new_rows order by 1) u
    on conflict (user_id, topic) do update set version = v.version + 1;
    return null;
end
$$;

-- TRUNCATE of the calls empties the rollups (the version: user_data_versions_truncate, before it).
create or replace function public.assistant_test_daily_truncate() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
    -- delete, not truncate: the same TRUNCATE statement may be emptying the rollups too
    delete from public.assistant_test_daily;
    delete from public.assistant_test_daily_assistant;
    delete from public.assistant_test_daily_status;
    return null;
end
$$;

drop sequence if exists public.user_data_version_seq;

-- == 5. intents_used follows its intents =========================================================================

-- An intent whose id changes: its assistants follow the new id; one that moves to another user: its old user's
-- assistants forget it (an assistant never points at another user's intent).
create or replace function public.intents_follow_id() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
    update public.assistants a set
        intents_used = case when new.user_id = old.user_id then array_replace(a.intents_used, old.id, new.id)
                            else array_remove(a.intents_used, old.id) end,
        updated_at = timezone('utc', now())
    where a.user_id = old.user_id and old.id = any(a.intents_used);
    return null;
end
$$;
revoke all on function public.intents_follow_id() from public, anon, authenticated;

drop trigger if exists intents_follow_id on public.intents;
create trigger intents_follow_id after update of id, user_id on public.intents
    for each row when (old.id is distinct from new.id or old.user_id is distinct from new.user_id)
    execute function public.intents_follow_id();

create or replace function public.intents_forget_truncated() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
    update public.assistants set intents_used = '{}', updated_at = timezone('utc', now())
    where cardinality(intents_used) > 0;
    return null;
end
$$;
revoke all on function public.intents_forget_truncated() from public, anon, authenticated;

drop trigger if exists intents_forget_truncated on public.intents;
create trigger intents_forget_truncated after truncate on public.intents
    for each statement execute function public.intents_forget_truncated();

-- == grants ======================================================================================================

do $$
declare f regprocedure;
begin
    for f in select p.oid::regprocedure from pg_proc p
             where p.pronamespace = 'public'::regnamespace and p.proname like 'dashboard\_%'
               and p.proname not like 'dashboard\_signin\_%'
    loop
        execute format('revoke all on function %s from public, anon, service_role', f);
        execute format('grant execute on function %s to authenticated', f);
    end loop;
end
$$;

-- == 6. sign-in throttle =========================================================================================

-- Sign-in attempts per key ('pair:<username>|<address>', 'user:<username>', 'addr:<address>'), shared by every
-- replica.  Only the server's own role reaches it (signin_throttle, security definer, service_role): no user
-- exists yet when someone signs in.
create table if not exists public.signin_attempts (
    key text primary key,
    attempts int not null default 0,
    window_start timestamptz not null default now(),
    locked_until timestamptz
);
alter table public.signin_attempts enable row level security;  -- no policy: no user reads or writes it
revoke all on public.signin_attempts from public, anon, authenticated, service_role;

-- p_action 'reserve': count one attempt on every key, atomically (row locks in key order), before its password
-- is checked; returns 0 if it may be checked, else the seconds to wait (a key locked, or past its limit, which
-- locks it).  'fail': the checked password was wrong; a key at its limit is locked.  'succeed': the keys are
-- forgotten.  'peek': the seconds to wait, counting nothing.  A key's count starts again p_lockout seconds after
-- its first attempt, or when its lock is over.
create or replace function public.signin_throttle(
    p_action text, p_keys text[], p_limits int[], p_lockout double precision
) returns double precision
language plpgsql volatile security definer
set search_path = ''
as $$
declare
    now_ts timestamptz := clock_timestamp();
    lockout interval := make_interval(secs => greatest(coalesce(p_lockout, 60), 0));
    wait double precision;
begin
    if p_action = 'reserve' then
        insert into public.signin_attempts as a (key, attempts, window_start)
        select k.key, 1, now_ts from unnest(p_keys) as k(key) order by k.key
        on conflict (key) do update set
            attempts = case when a.locked_until > now_ts then a.attempts
                            when a.locked_until is not null or a.window_start < now_ts - lockout then 1
                            else a.attempts + 1 end,
            window_start = case when a.locked_until > now_ts then a.window_start
                                when a.locked_until is not null or a.window_start < now_ts - lockout then now_ts
                                else a.window_start end,
            locked_until = case when a.locked_until > now_ts then a.locked_until end;
        update public.signin_attempts a set locked_until = now_ts + lockout
        from unnest(p_keys, p_limits) as k(key, lim)
        where a.key = k.key and a.attempts > greatest(k.lim, 1) and a.locked_until is null;
    elsif p_action = 'fail' then
        update public.signin_attempts a set locked_until = now_ts + lockout
        from unnest(p_keys, p_limits) as k(key, lim)
        where a.key = k.key and a.attempts >= greatest(k.lim, 1) and a.locked_until is null;
    elsif p_action = 'succeed' then
        delete from public.signin_attempts a where a.key = any(p_keys);
        return 0;
    elsif p_action is distinct from 'peek' then
        raise exception 'p_action must be reserve, fail, succeed or peek' using errcode = '22023';
    end if;
    select coalesce(max(extract(epoch from a.locked_until - now_ts)), 0) into wait
    from public.signin_attempts a where a.key = any(p_keys) and a.locked_until > now_ts;
    return wait;
end
$$;
revoke all on function public.signin_throttle(text, text[], int[], double precision) from public, anon, authenticated;
grant execute on function public.signin_throttle(text, text[], int[], double precision) to service_role;
