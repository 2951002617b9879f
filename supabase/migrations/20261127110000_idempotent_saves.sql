-- Saves that can be settled after a dropped connection (issue 10, "saves survive faults").
--
-- dashboard_save_intents takes the save's token from the client: an id for every added row
-- (p_added[].id) and one timestamp (p_at) that becomes updated_at of every written row (and
-- created_at of the added ones).  When the answer to a save is lost, the dashboard reads those
-- rows back to learn whether the save committed; retrying it cannot insert a row twice, since an
-- added id can exist only once.  Without them (older callers) the function behaves as before.
-- Locks are still taken in id order, so concurrent saves of overlapping rows cannot deadlock:
-- the second one waits, then finds the rows changed and is refused as a conflict (40001).

drop function if exists public.dashboard_save_intents(text, jsonb, jsonb, jsonb);

create or replace function public.dashboard_save_intents(
    p_user_id text, p_added jsonb default '[]', p_edited jsonb default '[]', p_deleted jsonb default '[]',
    p_at timestamp default null
) returns jsonb
language plpgsql volatile
set search_path = ''
as $$
declare
    conflicts jsonb;
    n_added int; n_edited int; n_deleted int;
    now_utc timestamp := coalesce(p_at, timezone('utc', clock_timestamp()));
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

    insert into public.intents (id, user_id, intent_name, example_user_phrases, english_responses,
                                russian_responses, created_at, updated_at)
    select coalesce((e->>'id')::uuid, gen_random_uuid()), p_user_id, e->>'intent_name',
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

revoke all on function public.dashboard_save_intents(text, jsonb, jsonb, jsonb, timestamp) from public, anon;
grant execute on function public.dashboard_save_intents(text, jsonb, jsonb, jsonb, timestamp)
    to authenticated, service_role;
