-- Edit history of the intents with undo, and no dangling intent ids (issue 11).
--
-- 1. intent_history: every save of the intents grid, every import and every undo appends one record in
--    the same transaction as the save: who, when, what kind, and each touched intent's values before and
--    after (null before: added; null after: deleted).  Append-only for users: RLS lets a user read and
--    insert only their own records, and role authenticated has no update, delete or truncate privilege.
--    An undo points at the record it undid (reverts, unique: a save is undone at most once).
-- 2. dashboard_save_intents gains p_kind ('grid' | 'import') and writes the record; otherwise it is the
--    function of 20261127110000 (same token semantics: a retried save is refused by its own conflict
--    check or its added ids, so it never writes a second record).
-- 3. dashboard_undo_save(p_user_id, p_history_id, p_at) puts a save's before values back in one
--    transaction, only if every intent it touched is still exactly as the save left it; otherwise
--    SQLSTATE 40001 with the changed ids as detail, and nothing changes.
-- 4. dashboard_history(p_user_id, p_limit, p_shown): the History panel's list for the REST backend.
-- 5. Deleting an intent removes its id from assistants.intents_used of the same user, in the same
--    statement (trigger intents_forget_deleted), whoever deletes: the dashboard, the web app, REST.

create table if not exists public.intent_history (
    id uuid primary key default gen_random_uuid(),
    user_id text not null,
    created_at timestamp not null default timezone('utc', now()),
    kind text not null,
    reverts uuid references public.intent_history (id),
    changes jsonb not null default '[]'::jsonb,
    constraint intent_history_kind_check check (kind in ('grid', 'import', 'undo')),
    constraint intent_history_changes_check check (jsonb_typeof(changes) = 'array'),
    constraint intent_history_undo_check check ((kind = 'undo') = (reverts is not null))
);
create index if not exists idx_intent_history_user_created on public.intent_history (user_id, created_at desc);
create unique index if not exists idx_intent_history_reverts on public.intent_history (reverts);

alter table public.intent_history enable row level security;
drop policy if exists intent_history_select on public.intent_history;
drop policy if exists intent_history_insert on public.intent_history;
create policy intent_history_select on public.intent_history as permissive for select to authenticated
    using (user_id = ((select auth.jwt()) ->> 'sub'));
create policy intent_history_insert on public.intent_history as permissive for insert to authenticated
    with check (user_id = ((select auth.jwt()) ->> 'sub'));
revoke all on public.intent_history from anon, authenticated;
grant select, insert on public.intent_history to authenticated;
grant select, insert on public.intent_history to service_role;

-- Its change version, like the other user tables' (20261127100000): the History panel's cache key.
drop trigger if exists intent_history_version_insert on public.intent_history;
drop trigger if exists intent_history_version_update on public.intent_history;
drop trigger if exists intent_history_version_delete on public.intent_history;
drop trigger if exists intent_history_version_truncate on public.intent_history;
create trigger intent_history_version_insert after insert on public.intent_history
    referencing new table as new_rows for each statement execute function public.user_data_versions_bump();
create trigger intent_history_version_update after update on public.intent_history
    referencing old table as old_rows new table as new_rows
    for each statement execute function public.user_data_versions_bump();
create trigger intent_history_version_delete after delete on public.intent_history
    referencing old table as old_rows for each statement execute function public.user_data_versions_bump();
create trigger intent_history_version_truncate after truncate on public.intent_history
    for each statement execute function public.user_data_versions_bump();

-- An intent's values as a history record keeps them.
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
        'updated_at', i.updated_at)
$$;

-- Whether an intent (null: absent) is exactly as a record's values (null: absent) say.
create or replace function public.intent_history_matches(i public.intents, v jsonb) returns boolean
language sql immutable
set search_path = ''
as $$
    select case
        when i.id is null or v is null or v = 'null'::jsonb then i.id is null and (v is null or v = 'null'::jsonb)
        else i.intent_name = v ->> 'intent_name'
            and i.example_user_phrases = array(select jsonb_array_elements_text(v -> 'example_user_phrases'))
            and i.english_responses = array(select jsonb_array_elements_text(v -> 'english_responses'))
            and i.russian_responses = array(select jsonb_array_elements_text(v -> 'russian_responses'))
            and i.updated_at is not distinct from (v ->> 'updated_at')::timestamp
    end
$$;

drop function if exists public.dashboard_save_intents(text, jsonb, jsonb, jsonb, timestamp);

create or replace function public.dashboard_save_intents(
    p_user_id text, p_added jsonb default '[]', p_edited jsonb default '[]', p_deleted jsonb default '[]',
    p_at timestamp default null, p_kind text default 'grid'
) returns jsonb
language plpgsql volatile
set search_path = ''
as $$
declare
    conflicts jsonb;
    before jsonb;
    history_id uuid;
    n_added int; n_edited int; n_deleted int;
    now_utc timestamp := coalesce(p_at, timezone('utc', clock_timestamp()));
begin
    perform public.dashboard_check_user(p_user_id);
    if p_kind is null or p_kind not in ('grid', 'import') then
        raise exception 'p_kind must be grid or import' using errcode = '22023';
    end if;
    -- every added row's id, made here when the caller sent none: the record names it
    select coalesce(jsonb_agg(jsonb_set(a.e, '{id}', to_jsonb(coalesce((a.e->>'id')::uuid, gen_random_uuid())))
                              order by a.ord), '[]'::jsonb) into p_added
    from jsonb_array_elements(coalesce(p_added, '[]'::jsonb)) with ordinality as a(e, ord);
    -- lock the touched rows in id order (concurrent saves cannot deadlock) and keep their values
    select coalesce(jsonb_object_agg(l.id::text, public.intent_history_values(l.r)), '{}'::jsonb) into before
    from (select i.id, i as r from public.intents i
          where i.user_id = p_user_id
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

    insert into public.intents (id, user_id, intent_name, example_user_phrases, english_responses,
                                russian_responses, created_at, updated_at)
    select (e->>'id')::uuid, p_user_id, e->>'intent_name',
           array(select jsonb_array_elements_text(e->'example_user_phrases')),
           array(select jsonb_array_elements_text(e->'english_responses')),
           array(select jsonb_array_elements_text(e->'russian_responses')),
           now_utc, now_utc
    from jsonb_array_elements(p_added) with ordinality as a(e, ord)
    order by a.ord;
    get diagnostics n_added = row_count;

    -- the record: deleted, then edited, then added rows, each in the order the caller gave them
    insert into public.intent_history (user_id, created_at, kind, changes)
    select p_user_id, now_utc, p_kind, coalesce(jsonb_agg(jsonb_build_object(
               'id', c.id, 'before', before -> c.id, 'after', public.intent_history_values(i))
               order by c.grp, c.ord), '[]'::jsonb)
    from (
        select 0 as grp, d.ord, d.e->>'id' as id from jsonb_array_elements(p_deleted) with ordinality as d(e, ord)
        union all
        select 1, d.ord, d.e->>'id' from jsonb_array_elements(p_edited) with ordinality as d(e, ord)
        union all
        select 2, a.ord, a.e->>'id' from jsonb_array_elements(p_added) with ordinality as a(e, ord)
    ) c
    left join public.intents i on i.id = (c.id)::uuid and i.user_id = p_user_id
    returning id into history_id;

    return jsonb_build_object('added', n_added, 'edited', n_edited, 'deleted', n_deleted, 'history_id', history_id);
end
$$;

revoke all on function public.dashboard_save_intents(text, jsonb, jsonb, jsonb, timestamp, text) from public, anon;
grant execute on function public.dashboard_save_intents(text, jsonb, jsonb, jsonb, timestamp, text)
    to authenticated, service_role;

-- Undo one save: its touched intents must be exactly as it left them (else 40001, detail: the changed
-- ids); then they are put back exactly as they were before it, times included: deleted intents come
-- back with their ids, created_at and updated_at, added ones go, edited ones get their values and
-- updated_at back.  So an earlier save can be undone after a later one was (its intents are again as it
-- left them), and a grid loaded after the save is still refused as a conflict (updated_at changed).
-- The undo's own record has kind 'undo', reverts = the undone record, created_at = p_at.
create or replace function public.dashboard_undo_save(
    p_user_id text, p_history_id uuid, p_at timestamp default null
) returns jsonb
language plpgsql volatile
set search_path = ''
as $$
declare
    rec public.intent_history;
    conflicts jsonb;
    history_id uuid;
    now_utc timestamp := coalesce(p_at, timezone('utc', clock_timestamp()));
begin
    perform public.dashboard_check_user(p_user_id);
    select * into rec from public.intent_history h where h.id = p_history_id and h.user_id = p_user_id;
    if not found then
        raise exception 'no such save' using errcode = 'P0002';
    end if;
    if exists (select 1 from public.intent_history h where h.reverts = rec.id) then
        raise exception 'already undone' using errcode = '23505';
    end if;

    perform 1 from public.intents i
    where i.user_id = p_user_id and i.id in (select (c->>'id')::uuid from jsonb_array_elements(rec.changes) c)
    order by i.id
    for update;

    select coalesce(jsonb_agg(c.e->>'id' order by c.ord), '[]'::jsonb) into conflicts
    from jsonb_array_elements(rec.changes) with ordinality as c(e, ord)
    left join public.intents i on i.id = (c.e->>'id')::uuid and i.user_id = p_user_id
    where not public.intent_history_matches(i, c.e->'after');
    if jsonb_array_length(conflicts) > 0 then
        raise exception 'conflict' using errcode = '40001', detail = conflicts::text;
    end if;

    delete from public.intents i
    using jsonb_array_elements(rec.changes) c
    where i.user_id = p_user_id and i.id = (c->>'id')::uuid and jsonb_typeof(c->'before') is distinct from 'object';

    update public.intents i set
        intent_name = c->'before'->>'intent_name',
        example_user_phrases = array(select jsonb_array_elements_text(c->'before'->'example_user_phrases')),
        english_responses = array(select jsonb_array_elements_text(c->'before'->'english_responses')),
        russian_responses = array(select jsonb_array_elements_text(c->'before'->'russian_responses')),
        updated_at = (c->'before'->>'updated_at')::timestamp
    from jsonb_array_elements(rec.changes) c
    where i.user_id = p_user_id and i.id = (c->>'id')::uuid
      and jsonb_typeof(c->'before') = 'object' and jsonb_typeof(c->'after') = 'object';

    insert into public.intents (id, user_id, intent_name, example_user_phrases, english_responses,
                                russian_responses, created_at, updated_at)
    select (c.e->>'id')::uuid, p_user_id, c.e->'before'->>'intent_name',
           array(select jsonb_array_elements_text(c.e->'before'->'example_user_phrases')),
           array(select jsonb_array_elements_text(c.e->'before'->'english_responses')),
           array(select jsonb_array_elements_text(c.e->'before'->'russian_responses')),
           (c.e->'before'->>'created_at')::timestamp, (c.e->'before'->>'updated_at')::timestamp
    from jsonb_array_elements(rec.changes) with ordinality as c(e, ord)
    where jsonb_typeof(c.e->'before') = 'object' and jsonb_typeof(c.e->'after') is distinct from 'object'
    order by c.ord;

    insert into public.intent_history (user_id, created_at, kind, reverts, changes)
    select p_user_id, now_utc, 'undo', rec.id, coalesce(jsonb_agg(jsonb_build_object(
               'id', c.e->>'id', 'before', nullif(c.e->'after', 'null'::jsonb),
               'after', public.intent_history_values(i)) order by c.ord), '[]'::jsonb)
    from jsonb_array_elements(rec.changes) with ordinality as c(e, ord)
    left join public.intents i on i.id = (c.e->>'id')::uuid and i.user_id = p_user_id
    returning id into history_id;

    return jsonb_build_object('undone', jsonb_array_length(rec.changes), 'history_id', history_id);
end
$$;

revoke all on function public.dashboard_undo_save(text, uuid, timestamp) from public, anon;
grant execute on function public.dashboard_undo_save(text, uuid, timestamp) to authenticated, service_role;

-- The History panel's list for the REST backend: the latest p_limit records, newest first, each with its
-- first p_shown changes, the counts of all of them (a large import's record is not shipped whole) and
-- the id of the undo that undid it.
create or replace function public.dashboard_history(p_user_id text, p_limit int default 20, p_shown int default 100)
returns jsonb
language plpgsql stable
set search_path = ''
as $$
declare
    result jsonb;
    head jsonpath := format('$[0 to %s]', greatest(p_shown, 1) - 1)::jsonpath;
begin
    perform public.dashboard_check_user(p_user_id);
    select coalesce(jsonb_agg(jsonb_build_object(
               'id', h.id, 'created_at', h.created_at, 'kind', h.kind, 'reverts', h.reverts,
               'changes', jsonb_path_query_array(h.changes, head),
               'total', jsonb_array_length(h.changes),
               'added', jsonb_array_length(jsonb_path_query_array(h.changes, '$[*] ? (@.before == null)')),
               'deleted', jsonb_array_length(jsonb_path_query_array(h.changes, '$[*] ? (@.after == null)')),
               'undone_by', (select u.id from public.intent_history u where u.reverts = h.id))
               order by h.created_at desc, h.id desc), '[]'::jsonb) into result
    from (select * from public.intent_history h
          where h.user_id = p_user_id
          order by h.created_at desc, h.id desc
          limit least(greatest(p_limit, 1), 200)) h;
    return result;
end
$$;

revoke all on function public.dashboard_history(text, int, int) from public, anon;
grant execute on function public.dashboard_history(text, int, int) to authenticated, service_role;

-- A deleted intent leaves no dangling id: its id goes from every assistant of the same user that used
-- it, in the deleting statement's transaction (the assistants' updated_at and change version advance).
create or replace function public.intents_forget_deleted() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
    update public.assistants a set
        intents_used = array(select u.id from unnest(a.intents_used) with ordinality as u(id, n)
                             where not exists (select 1 from old_rows o where o.id = u.id and o.user_id = a.user_id)
                             order by u.n),
        updated_at = timezone('utc', now())
    where a.user_id in (select distinct o.user_id from old_rows o)
      and exists (select 1 from old_rows o where o.user_id = a.user_id and o.id = any(a.intents_used));
    return null;
end
$$;
revoke all on function public.intents_forget_deleted() from public, anon, authenticated;

drop trigger if exists intents_forget_deleted on public.intents;
create trigger intents_forget_deleted after delete on public.intents
    referencing old table as old_rows for each statement execute function public.intents_forget_deleted();
