-- The analysts' read-only HTTP API (lib/web/api): personal access tokens and signed links.
--
-- * api_tokens: one row per personal access token.  Only the SHA-256 of the token is stored (token_hash,
--   64 hex digits; the token itself, "vad_" + 43 url-safe characters, is shown once and never kept).
--   Row-level security: a user reaches only their own rows, and role authenticated may read every
--   column EXCEPT token_hash (column grants), so no user can read any hash, theirs included.
-- * dashboard_api_token_create / dashboard_api_tokens / dashboard_api_token_revoke: what the API access
--   section does, security invoker, the user from the JWT (dashboard_uid()) like every dashboard_* function.
--   At most 20 live (not revoked, not expired) tokens per user; expiry 30, 90 or 365 days.
-- * api_token_user(hash): the server's one statement per API request.  SECURITY DEFINER (it must find
--   a token before it knows the user), executable by service_role only (the server; never anon or
--   authenticated): the token's id and user, and that user's change versions (what the ETag is built
--   from, so a 304 costs this one statement), only for a live token; NULL otherwise, for every reason
--   alike.  last_used_at is written at most once a minute per token (a scheduled pull stays a read).
--   Revocation is effective on the next request on every replica: nothing about tokens is cached.
-- * Signed links: an HMAC-SHA256 (computed here, with sha256() and no extension) over the user, path,
--   canonical query and expiry, with the user's link key, kept in dashboard_private.link_keys that no API role can
--   read.  Links are recorded in api_links for the listing; rotating the key (dashboard_api_rotate_link_key)
--   invalidates every link the user made at once.  api_link_user verifies a link (service_role only).

-- A schema PostgREST does not expose: the link keys and the definer functions that use them.
create schema if not exists dashboard_private;
revoke all on schema dashboard_private from public, anon, authenticated, service_role;
grant usage on schema dashboard_private to authenticated, service_role;

-- -- personal access tokens -------------------------------------------------------------------------

create table if not exists public.api_tokens (
    id uuid primary key default gen_random_uuid(),
    user_id varchar(255) not null,
    name text not null check (char_length(name) between 1 and 100),
    token_hash char(64) not null unique check (token_hash ~ '^[0-9a-f]{64}$'),
    hint text not null check (char_length(hint) <= 8),  -- the token's last 4 characters, to tell tokens apart
    created_at timestamp not null default timezone('utc', now()),
    expires_at timestamp not null,
    last_used_at timestamp,
    revoked_at timestamp
);
create index if not exists idx_api_tokens_user_created on public.api_tokens (user_id, created_at desc);

alter table public.api_tokens enable row level security;
drop policy if exists api_tokens_owner on public.api_tokens;
create policy api_tokens_owner on public.api_tokens as permissive for all to authenticated
    using ((select auth.jwt()) ->> 'sub' = user_id) with check ((select auth.jwt()) ->> 'sub' = user_id);
revoke all on public.api_tokens from anon, authenticated, service_role;
grant select (id, user_id, name, hint, created_at, expires_at, last_used_at, revoked_at) on public.api_tokens
    to authenticated;
grant insert (user_id, name, token_hash, hint, expires_at) on public.api_tokens to authenticated;
grant update (revoked_at) on public.api_tokens to authenticated;

-- Create a token from its hash (the server makes the token and shows it once).  22023: a bad name, expiry
-- or hash; 54000: 20 live tokens already.
create or replace function public.dashboard_api_token_create(p_name text, p_days integer, p_hash text, p_hint text)
returns jsonb
language plpgsql volatile
set search_path = ''
as $$
declare
    uid text := public.dashboard_uid();
    now_utc timestamp := timezone('utc', now());
    made public.api_tokens%rowtype;
begin
    if p_days is null or p_days not in (30, 90, 365) then
        raise exception 'expiry must be 30, 90 or 365 days' using errcode = '22023';
    end if;
    if char_length(btrim(coalesce(p_name, ''))) not between 1 and 100 then
        raise exception 'name must be 1 to 100 characters' using errcode = '22023';
    end if;
    perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('api_tokens:' || uid, 0));
    if (select count(*) from public.api_tokens t
        where t.user_id = uid and t.revoked_at is null and t.expires_at > now_utc) >= 20 then
        raise exception 'at most 20 active tokens' using errcode = '54000';
    end if;
    insert into public.api_tokens (user_id, name, token_hash, hint, expires_at)
    values (uid, btrim(p_name), p_hash, coalesce(p_hint, ''), now_utc + pg_catalog.make_interval(days => p_days))
    returning id, name, hint, created_at, expires_at into made.id, made.name, made.hint, made.created_at, made.expires_at;
    return jsonb_build_object('id', made.id, 'name', made.name, 'hint', made.hint, 'created_at', made.created_at,
                              'expires_at', made.expires_at, 'last_used_at', null, 'revoked_at', null);
end
$$;

-- The user's tokens, newest first (revoked and expired ones too: the screen shows their state).
create or replace function public.dashboard_api_tokens() returns jsonb
language sql stable
set search_path = ''
as $$
    select coalesce(jsonb_agg(jsonb_build_object('id', t.id, 'name', t.name, 'hint', t.hint,
                                                 'created_at', t.created_at, 'expires_at', t.expires_at,
                                                 'last_used_at', t.last_used_at, 'revoked_at', t.revoked_at)
                              order by t.created_at desc, t.id), '[]'::jsonb)
    from public.api_tokens t
    where t.user_id = public.dashboard_uid()
$$;

-- Revoke one of the user's tokens (idempotent); false when the user has no such token.
create or replace function public.dashboard_api_token_revoke(p_id uuid) returns boolean
language plpgsql volatile
set search_path = ''
as $$
declare
    uid text := public.dashboard_uid();
begin
    update public.api_tokens t set revoked_at = coalesce(t.revoked_at, timezone('utc', now()))
    where t.id = p_id and t.user_id = uid;
    return found;
end
$$;

-- The server's lookup: a live token's id, user and that user's change versions; NULL for anything else.
create or replace function public.api_token_user(p_hash text) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
    tok record;
    now_utc timestamp := timezone('utc', now());
begin
    select t.id, t.user_id, t.last_used_at into tok from public.api_tokens t
    where t.token_hash = p_hash and t.revoked_at is null and t.expires_at > now_utc;
    if not found then
        return null;
    end if;
    if tok.last_used_at is null or tok.last_used_at < now_utc - interval '1 minute' then
        update public.api_tokens set last_used_at = now_utc where id = tok.id;
    end if;
    return jsonb_build_object('token_id', tok.id, 'user_id', tok.user_id, 'versions',
        (select coalesce(jsonb_object_agg(v.topic, v.version), '{}'::jsonb)
         from public.user_data_versions v where v.user_id = tok.user_id));
end
$$;

-- -- signed links ----------------------------------------------------------------------------------

create table if not exists dashboard_private.link_keys (
    user_id varchar(255) primary key,
    key bytea not null check (octet_length(key) = 64),
    rotated_at timestamp not null default timezone('utc', now())
);
alter table dashboard_private.link_keys enable row level security;  -- no policy: no API role reads a key
revoke all on dashboard_private.link_keys from public, anon, authenticated, service_role;

create table if not exists public.api_links (
    id uuid primary key default gen_random_uuid(),
    user_id varchar(255) not null,
    path text not null,
    query text not null,
    created_at timestamp not null default timezone('utc', now()),
    expires_at timestamp not null,
    revoked_at timestamp  -- set for all of a user's links when the link key is rotated
);
create index if not exists idx_api_links_user_created on public.api_links (user_id, created_at desc);
alter table public.api_links enable row level security;
drop policy if exists api_links_owner on public.api_links;
create policy api_links_owner on public.api_links as permissive for select to authenticated
    using ((select auth.jwt()) ->> 'sub' = user_id);
revoke all on public.api_links from anon, authenticated, service_role;
grant select on public.api_links to authenticated;

-- HMAC-SHA256 (RFC 2104) with a 64-byte key (SHA-256's block size), from the built-in sha256().
create or replace function dashboard_private.hmac_sha256(p_key bytea, p_message bytea) returns bytea
language sql immutable strict
set search_path = ''
as $$
    select sha256(o.pad || sha256(i.pad || p_message))
    from (select decode(string_agg(lpad(to_hex(get_byte(p_key, n) # 92), 2, '0'), '' order by n), 'hex') as pad
          from generate_series(0, 63) n) o,
         (select decode(string_agg(lpad(to_hex(get_byte(p_key, n) # 54), 2, '0'), '' order by n), 'hex') as pad
          from generate_series(0, 63) n) i
$$;

-- What a link's signature covers, written once: user, path, canonical query, expiry (Unix seconds).
create or replace function dashboard_private.link_message(p_user text, p_path text, p_query text, p_exp bigint)
returns bytea
language sql immutable
set search_path = ''
as $$
    select convert_to(concat_ws(E'\n', 'vad-link-v1', p_user, p_path, p_query, p_exp::text), 'UTF8')
$$;

create or replace function dashboard_private.new_link_key() returns bytea
language sql volatile
set search_path = ''
as $$
    select decode(replace(gen_random_uuid()::text || gen_random_uuid()::text || gen_random_uuid()::text
                          || gen_random_uuid()::text, '-', ''), 'hex')
$$;

-- Sign a link for the calling user (their key made on first use): {id, exp, sig}.
create or replace function dashboard_private.sign_link(p_path text, p_query text, p_days integer) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
    uid text := public.dashboard_uid();
    expires timestamp;
    exp bigint;
    link uuid;
    k bytea;
begin
    if p_days is null or p_days not between 1 and 30 then
        raise exception 'a link lives 1 to 30 days' using errcode = '22023';
    end if;
    if p_path is null or p_path !~ '^/api/v1/[a-z]+\.(csv|json)$' or p_query is null or char_length(p_query) > 4000 then
        raise exception 'not a link to sign' using errcode = '22023';
    end if;
    insert into dashboard_private.link_keys (user_id, key) values (uid, dashboard_private.new_link_key())
    on conflict (user_id) do nothing;
    select lk.key into k from dashboard_private.link_keys lk where lk.user_id = uid;
    exp := floor(extract(epoch from now()))::bigint + p_days * 86400;
    expires := timezone('utc', to_timestamp(exp));
    insert into public.api_links (user_id, path, query, expires_at) values (uid, p_path, p_query, expires)
    returning id into link;
    return jsonb_build_object('id', link, 'exp', exp, 'expires_at', expires, 'sig',
        encode(dashboard_private.hmac_sha256(k, dashboard_private.link_message(uid, p_path, p_query, exp)), 'hex'));
end
$$;

-- Rotate the calling user's link key: every link they made stops working at once.
create or replace function dashboard_private.rotate_link_key() returns integer
language plpgsql volatile security definer
set search_path = ''
as $$
declare
    uid text := public.dashboard_uid();
    n integer;
begin
    insert into dashboard_private.link_keys (user_id, key) values (uid, dashboard_private.new_link_key())
    on conflict (user_id) do update set key = excluded.key, rotated_at = timezone('utc', now());
    update public.api_links set revoked_at = timezone('utc', now()) where user_id = uid and revoked_at is null;
    get diagnostics n = row_count;
    return n;
end
$$;

create or replace function public.dashboard_api_link_create(p_path text, p_query text, p_days integer) returns jsonb
language sql volatile
set search_path = ''
as $$
    select dashboard_private.sign_link(p_path, p_query, p_days)
$$;

create or replace function public.dashboard_api_rotate_link_key() returns integer
language sql volatile
set search_path = ''
as $$
    select dashboard_private.rotate_link_key()
$$;

-- The user's links that still work (not expired, key not rotated since), newest first.
create or replace function public.dashboard_api_links() returns jsonb
language sql stable
set search_path = ''
as $$
    select coalesce(jsonb_agg(jsonb_build_object('id', l.id, 'path', l.path, 'query', l.query,
                                                 'created_at', l.created_at, 'expires_at', l.expires_at)
                              order by l.created_at desc, l.id), '[]'::jsonb)
    from public.api_links l
    where l.user_id = public.dashboard_uid() and l.revoked_at is null and l.expires_at > timezone('utc', now())
$$;

-- The server's check of a link: the user and their change versions when the signature is the user's key's
-- (whatever the expiry: the server answers an expired genuine link 410); NULL otherwise.
create or replace function public.api_link_user(p_user text, p_path text, p_query text, p_exp bigint, p_sig text)
returns jsonb
language sql stable security definer
set search_path = ''
as $$
    select jsonb_build_object('user_id', lk.user_id, 'versions',
        (select coalesce(jsonb_object_agg(v.topic, v.version), '{}'::jsonb)
         from public.user_data_versions v where v.user_id = lk.user_id))
    from dashboard_private.link_keys lk
    where lk.user_id = p_user
      and encode(dashboard_private.hmac_sha256(lk.key, dashboard_private.link_message(p_user, p_path, p_query, p_exp)),
                 'hex') = lower(p_sig)
$$;

-- -- privileges ----------------------------------------------------------------------------------------

revoke all on all functions in schema dashboard_private from public, anon, authenticated, service_role;
grant execute on function dashboard_private.sign_link(text, text, integer) to authenticated;
grant execute on function dashboard_private.rotate_link_key() to authenticated;

do $$
declare
    f text;
begin
    foreach f in array array[
        'public.dashboard_api_token_create(text, integer, text, text)', 'public.dashboard_api_tokens()',
        'public.dashboard_api_token_revoke(uuid)', 'public.dashboard_api_link_create(text, text, integer)',
        'public.dashboard_api_rotate_link_key()', 'public.dashboard_api_links()'] loop
        execute format('revoke all on function %s from public, anon, service_role', f);
        execute format('grant execute on function %s to authenticated', f);
    end loop;
    foreach f in array array['public.api_token_user(text)', 'public.api_link_user(text, text, text, bigint, text)'] loop
        execute format('revoke all on function %s from public, anon, authenticated', f);
        execute format('grant execute on function %s to service_role', f);
    end loop;
end
$$;
