-- Supabase's advisors clean, and least-privilege grants for signed-in users (issue 12, items 4 and 5).
--
-- 1. Every owner policy is rewritten as user_id = ((select auth.jwt()) ->> 'sub').  The earlier form,
--    (select auth.jwt() ->> 'sub'), already ran as an InitPlan (once per statement), but Supabase's
--    auth_rls_initplan lint matches the policy's text and wants "select auth.jwt()" in it, so it
--    reported one WARN per table.  Same meaning, same plan.
-- 2. Role authenticated (a user's own token, e.g. the web app calling the REST API, or the dashboard's
--    PostgreSQL backend, which runs every user transaction as authenticated) gets only what the
--    dashboard needs: read everywhere; insert, update and delete intents (the grid); insert and update
--    its assistant_settings row (the pause toggle).  Subscriptions, assistants and test calls are
--    written by the service role only (Stripe and Vapi webhooks, the web app's server), so a signed-in
--    user can no longer make their own subscription 'active' until 2099, plant an assistant carrying
--    another user's Vapi id, or forge or delete test calls.  The rollups and user_data_versions were
--    read-only already.  Tables not named here (e.g. intent_history, with its own grants) are left alone.
-- 3. TRUNCATE, REFERENCES and TRIGGER, which Supabase's default privileges grant on every new table
--    to anon, authenticated and service_role, are revoked on these tables: TRUNCATE ignores row-level
--    security, and nothing here needs the other two.
--
-- If the web app writes these tables with a user's token instead of the service role, widen the grant
-- for that table in a new migration, e.g. `grant insert, update on public.assistants to authenticated;`
-- (the owner policy still pins every row to the token's user).  README.md, "Who may write what".

do $$
declare t text;
begin
    foreach t in array array['subscriptions', 'intents', 'assistant_settings', 'assistants', 'assistant_tests',
                             'assistant_test_daily', 'assistant_test_daily_status', 'assistant_test_daily_assistant',
                             'user_data_versions']
    loop
        execute format(
            'alter policy %I on public.%I '
            'using (user_id = ((select auth.jwt()) ->> ''sub'')) '
            'with check (user_id = ((select auth.jwt()) ->> ''sub''))',
            t || '_owner', t);
        execute format('revoke all on public.%I from anon', t);
        execute format('revoke insert, update, delete, truncate, references, trigger on public.%I from authenticated', t);
        execute format('revoke truncate, references, trigger on public.%I from service_role', t);
        execute format('grant select on public.%I to authenticated, service_role', t);
    end loop;
end
$$;

grant insert, update, delete on public.intents to authenticated;
grant insert, update on public.assistant_settings to authenticated;
