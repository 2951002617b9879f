-- When the signed-in user's history of test calls begins (issue 20, fair comparisons): the Stats screen
-- compares a period with the one before it only when that earlier period lies wholly inside the history,
-- so a first week is never "+8857.6%" against the single day before it.  One row from the
-- (user_id, created_at) index: {"at": "2026-09-04T12:00:00"}, "at" null when the user has no dated call
-- (an object, as every dashboard function answers, never a bare string).
create or replace function public.dashboard_first_test_at() returns jsonb
language sql stable
set search_path = ''
as $$
    select jsonb_build_object('at', (
        select t.created_at
        from public.assistant_tests t
        where t.user_id = public.dashboard_uid() and t.created_at is not null
        order by t.created_at
        limit 1))
$$;

revoke all on function public.dashboard_first_test_at() from public, anon, service_role;
grant execute on function public.dashboard_first_test_at() to authenticated;
