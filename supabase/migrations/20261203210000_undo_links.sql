-- Undo of a delete brings back the intent's assistant links (issue 20, item 3).
--
-- A deleted intent's id leaves every assistant that used it (intents_forget_deleted, 20261127130000).  Until now
-- the links were simply dropped, so undoing the delete brought the intent back used by nobody.  Now:
-- * intent_links_removed keeps, for every link a deleted intent lost, the assistant (id and name at the time)
--   and the intent's place in its intents_used (1-based), for every writer (the trigger does it);
-- * an intent inserted again with the same id (an undo of its delete, by the dashboard or anyone) gets those
--   links back, in the inserting statement's transaction, at their old places (clamped to the list's end), on
--   the assistants that still exist; its kept links are forgotten then, restored or not;
-- * dashboard_undo_save answers, besides what it did, "links_restored" (how many links came back) and
--   "links_lost" (the names of the assistants that no longer exist, so their links could not come back).
-- The latest definition of dashboard_undo_save is 20261203140000_integrity.sql: the same, with these counts.

create table if not exists public.intent_links_removed (
    user_id varchar(255) not null,
    intent_id uuid not null,
    assistant_id uuid not null,
    assistant_name text not null,
    position int not null,
    removed_at timestamp not null default timezone('utc', now()),
    constraint intent_links_removed_pkey primary key (user_id, intent_id, assistant_id)
);
alter table public.intent_links_removed enable row level security;
drop policy if exists intent_links_removed_owner on public.intent_links_removed;
create policy intent_links_removed_owner on public.intent_links_removed as permissive for all to authenticated
    using (user_id = ((select auth.jwt()) ->> 'sub'))
    with check (user_id = ((select auth.jwt()) ->> 'sub'));
revoke all on public.intent_links_removed from public, anon, authenticated, service_role;
grant select on public.intent_links_removed to authenticated, service_role;  -- written by the triggers only

-- A deleted intent leaves no dangling id (as before), and its links are kept for an undo.
create or replace function public.intents_forget_deleted() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
    insert into public.intent_links_removed as k (user_id, intent_id, assistant_id, assistant_name, position)
    select a.user_id, u.id, a.id, a.name, min(u.n)
    from public.assistants a
    cross join lateral unnest(a.intents_used) with ordinality as u(id, n)
    join old_rows o on o.id = u.id and o.user_id = a.user_id
    where a.user_id in (select distinct o2.user_id from old_rows o2)
    group by a.user_id, u.id, a.id, a.name
    order by 1, 2, 3
    on conflict (user_id, intent_id, assistant_id) do update set
        assistant_name = excluded.assistant_name, position = excluded.position, removed_at = excluded.removed_at;

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

-- An intent inserted with an id whose links were kept: back on the assistants that still exist, each at its old
-- place (in ascending order of place, so several intents of one assistant land where they were).
create or replace function public.intents_restore_links() returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
    k record;
begin
    for k in
        select r.user_id, r.intent_id, r.assistant_id, r.position
        from public.intent_links_removed r
        join new_rows n on n.id = r.intent_id and n.user_id = r.user_id
        order by r.user_id, r.assistant_id, r.position, r.intent_id
    loop
        update public.assistants a set
            intents_used = a.intents_used[1:least(k.position, cardinality(a.intents_used) + 1) - 1]
                           || k.intent_id
                           || a.intents_used[least(k.position, cardinality(a.intents_used) + 1):],
            updated_at = timezone('utc', now())
        where a.id = k.assistant_id and a.user_id = k.user_id and not (k.intent_id = any(a.intents_used));
    end loop;
    delete from public.intent_links_removed r
    using new_rows n
    where r.intent_id = n.id and r.user_id = n.user_id;
    return null;
end
$$;
revoke all on function public.intents_restore_links() from public, anon, authenticated;

drop trigger if exists intents_restore_links on public.intents;
create trigger intents_restore_links after insert on public.intents
    referencing new table as new_rows for each statement execute function public.intents_restore_links();

-- TRUNCATE of intents forgets every kept link (nothing can come back to a truncated table by undo).
create or replace function public.intents_forget_truncated() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
    update public.assistants set intents_used = '{}', updated_at = timezone('utc', now())
    where cardinality(intents_used) > 0;
    delete from public.intent_links_removed;
    return null;
end
$$;
revoke all on function public.intents_forget_truncated() from public, anon, authenticated;

-- Undo one save (as 20261203140000_integrity.sql), answering also which links of the intents it brings back
-- came back ("links_restored": how many) and which could not ("links_lost": the names of the assistants deleted
-- since, each once, in name order).
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
    restored int;
    lost jsonb;
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

    -- the kept links of the intents this undo brings back, before the insert restores (and forgets) them
    select count(*) filter (where a.id is not null),
           coalesce(jsonb_agg(distinct r.assistant_name order by r.assistant_name) filter (where a.id is null), '[]'::jsonb)
    into restored, lost
    from public.intent_links_removed r
    join jsonb_array_elements(rec.changes) c
      on (c->>'id')::uuid = r.intent_id
     and jsonb_typeof(c->'before') = 'object' and jsonb_typeof(c->'after') is distinct from 'object'
    left join public.assistants a on a.id = r.assistant_id and a.user_id = uid
    where r.user_id = uid;

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

    return jsonb_build_object('undone', jsonb_array_length(rec.changes), 'history_id', history_id,
                              'links_restored', restored, 'links_lost', lost);
end
$$;

-- as every dashboard_* function: executable by signed-in users only
revoke all on function public.dashboard_undo_save(uuid, timestamp) from public, anon, service_role;
grant execute on function public.dashboard_undo_save(uuid, timestamp) to authenticated;
