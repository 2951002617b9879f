"""Two dashboard replicas behind nginx on one PostgreSQL: the proxy, and replicas that agree.

The module starts a real PostgreSQL with the demo data, two ``streamlit run`` replicas under the
``/dashboard`` prefix on loopback ports, and Debian's nginx (``/usr/sbin/nginx``, installed by
``make test``) with the configuration ``deploy.nginx_conf`` renders, in a temporary directory.

* Without a browser: health checks, the routing cookie and stickiness, the websocket upgrade, the
  upload limit, and a dead replica being passed over.
* In Chromium: alice in browser A (routed to replica 1) and alice in browser B (routed to replica 2).
  B opens the Intents screen first, so replica 2 has her intents cached; A imports an intent through
  replica 1; B's next render must show it. Only the database links the two processes, so this holds
  only if the cache is keyed on something the database keeps (issue 8, item 1).
"""

from __future__ import annotations

import http.server
import json
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from deploy.nginx_conf import (
    EXAMPLE,
    REPLICA_HEADER,
    ROUTE_COOKIE,
    ProxySite,
    example_site,
    render_site,
    render_standalone,
)
from tests.conftest import truncate_all
from tests.e2e_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    VIEWPORT,
    App,
    free_port,
    grid_cell,
    open_screen,
    screenshot,
    seed_demo,
    serving_app,
    settle,
    sign_in,
    wait_for_gate,
)

NGINX = Path("/usr/sbin/nginx")
PREFIX = "/dashboard"


@dataclass(frozen=True)
class Proxy:
    url: str  # http://127.0.0.1:<port>/dashboard
    run_dir: Path

    @property
    def origin(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"

    def access_log(self) -> list[str]:
        return (self.run_dir / "access.log").read_text(encoding="utf-8").splitlines()

    def error_log(self) -> str:
        return (self.run_dir / "error.log").read_text(encoding="utf-8", errors="replace")


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]  # lower-case names; Set-Cookie values joined by "\n"
    body: bytes


def fetch(url: str, *, cookie: str | None = None, method: str = "GET", data: bytes | None = None,
          headers: dict[str, str] | None = None) -> Reply:
    """One plain HTTP request (no cookie jar, no redirects followed)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    request = urllib.request.Request(url, method=method, data=data, headers=headers or {})
    if cookie:
        request.add_header("Cookie", cookie)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=30) as resp:
            status, raw, body = resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        status, raw, body = err.code, err.headers, err.read()
    headers: dict[str, str] = {}
    for name, value in raw.items():
        key = name.lower()
        headers[key] = f"{headers[key]}\n{value}" if key in headers else value
    return Reply(status, headers, body)


@contextmanager
def running_nginx(replicas: tuple[str, ...], *, startup_timeout: float = 20.0) -> Iterator[Proxy]:
    """nginx in the foreground with a rendered standalone config in a fresh directory.  As root,
    nginx's workers run as ``nobody``: the directory is made readable so they reach their temp files."""
    if not NGINX.exists():
        pytest.skip(f"no nginx at {NGINX} (`make test` installs it)")
    run_dir = Path(tempfile.mkdtemp(prefix="dashboard-nginx-"))
    run_dir.chmod(0o755)
    (run_dir / "tmp").mkdir()
    port = free_port()
    site = ProxySite(replicas=replicas, prefix=PREFIX, listen=f"127.0.0.1:{port}")
    conf = run_dir / "nginx.conf"
    conf.write_text(render_standalone(site, run_dir), encoding="utf-8")
    proxy = Proxy(url=f"http://127.0.0.1:{port}{PREFIX}", run_dir=run_dir)
    with (run_dir / "nginx.out").open("wb") as out:
        proc = subprocess.Popen(
            [str(NGINX), "-c", str(conf), "-e", str(run_dir / "error.log")], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if proc.poll() is not None:
                out_text = (run_dir / "nginx.out").read_text(errors="replace")
                raise RuntimeError(f"nginx exited with {proc.returncode}:\n{out_text}\n{proxy.error_log()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"nginx did not listen in {startup_timeout:.0f}s") from None
                time.sleep(0.1)
        yield proxy
    finally:
        proc.terminate()  # SIGTERM: fast shutdown
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        shutil.rmtree(run_dir, ignore_errors=True)


def address(app: App) -> str:
    return urlsplit(app.url).netloc


def route_keys(proxy: Proxy, count: int) -> dict[str, str]:
    """A routing-cookie value for each replica ("1".."count"), found by asking nginx where each goes."""
    keys: dict[str, str] = {}
    for i in range(500):
        key = f"probe{i}"
        reply = fetch(f"{proxy.url}/healthz", cookie=f"{ROUTE_COOKIE}={key}")
        assert reply.status == 200, reply
        keys.setdefault(reply.headers[REPLICA_HEADER.lower()], key)
        if len(keys) == count:
            return keys
    raise AssertionError(f"500 routing keys reached only replicas {sorted(keys)}")


# -- fixtures: PostgreSQL with the demo data, two replicas, nginx ----------------------------------


@pytest.fixture(scope="module")
def replicas(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, App]]:
    truncate_all(pg_url)
    seed_demo(pg_url)
    shared = {
        "AUTH_COOKIE_KEY": "replicas-test-cookie-key",  # every replica must verify the re-login cookie
        "CACHE_TTL_SECONDS": "300",  # a long TTL, whatever the shell says: only the database can make B fresh
    }
    with ExitStack() as stack:
        apps = tuple(
            stack.enter_context(
                serving_app(
                    tmp_path_factory.mktemp(f"replica{n}"), pg_url, base_url_path=PREFIX.lstrip("/"), env=shared
                )
            )
            for n in (1, 2)
        )
        yield apps  # type: ignore[misc]
    for app in apps:
        log = app.log_text()
        assert "Traceback" not in log, f"replica {app.url} logged a traceback:\n{log[-4000:]}"


@pytest.fixture(scope="module")
def proxy(replicas: tuple[App, App]) -> Iterator[Proxy]:
    with running_nginx(tuple(address(app) for app in replicas)) as running:
        yield running
        errors = running.error_log()
    assert "[emerg]" not in errors and "[crit]" not in errors and "[alert]" not in errors, errors


# -- the proxy, without a browser ------------------------------------------------------------------


def test_health_checks_through_the_proxy(proxy: Proxy) -> None:
    """The pool's health and each replica's, as an outside monitor would ask."""
    for path in ("/healthz", "/healthz/1", "/healthz/2", "/_stcore/health"):
        reply = fetch(proxy.url + path)
        assert (reply.status, reply.body) == (200, b"ok"), (path, reply)


def test_a_new_browser_gets_a_routing_cookie_and_stays_on_its_replica(proxy: Proxy) -> None:
    first = fetch(proxy.url + "/")
    assert first.status == 200 and b"<html" in first.body.lower(), first.status
    cookie = re.fullmatch(
        rf"{ROUTE_COOKIE}=([0-9a-f]{{32}}); Path={PREFIX}; HttpOnly; SameSite=Lax", first.headers.get("set-cookie", "")
    )
    assert cookie, f"no routing cookie set: {first.headers}"
    replica = first.headers[REPLICA_HEADER.lower()]
    assert replica in {"1", "2"}
    for _ in range(10):
        again = fetch(proxy.url + "/", cookie=f"{ROUTE_COOKIE}={cookie.group(1)}")
        assert again.status == 200
        assert again.headers[REPLICA_HEADER.lower()] == replica
        assert "set-cookie" not in again.headers, "a browser that has a routing cookie must keep it"
    # new browsers spread over both replicas
    seen = {fetch(proxy.url + "/").headers[REPLICA_HEADER.lower()] for _ in range(40)}
    assert seen == {"1", "2"}
    # the path without its slash lands in the dashboard, on the browser's host and port
    bare = fetch(proxy.url)
    assert bare.status in (301, 308) and bare.headers["location"] == f"{PREFIX}/", bare


def test_the_api_is_served_by_any_replica_without_a_cookie(proxy: Proxy, pg_url: str) -> None:
    """/api/ is outside the prefix and stateless: no routing cookie, requests spread over the replicas, each
    answers the same bytes, a revoked token fails on both at once, and the log leaves out the query."""
    from lib.store.api_access import ApiAccess
    from lib.store.direct import DirectStore
    from tools.pgcluster import libpq_url

    store = DirectStore(libpq_url(pg_url))
    try:
        access = ApiAccess(store, "user_demo_alice")
        token, row = access.create_token("replicas", 30)
        auth = {"Authorization": f"Bearer {token}"}
        replies = [fetch(f"{proxy.origin}/api/v1/intents.csv?q=secretquery", headers=auth) for _ in range(12)]
        assert {r.status for r in replies} == {200}
        assert {r.headers[REPLICA_HEADER.lower()] for r in replies} == {"1", "2"}
        assert not any("set-cookie" in r.headers for r in replies)
        assert len({r.body for r in replies}) == 1
        access.revoke_token(row.id)
    finally:
        store.close()
    after = [fetch(f"{proxy.origin}/api/v1/intents.csv", headers=auth) for _ in range(6)]
    assert {r.status for r in after} == {401} and {r.headers[REPLICA_HEADER.lower()] for r in after} == {"1", "2"}
    api_log = (proxy.run_dir / "access-api.log").read_text(encoding="utf-8")
    assert "/api/v1/intents.csv" in api_log and "secretquery" not in api_log and token not in api_log


def test_websocket_upgrade_reaches_the_pinned_replica(proxy: Proxy) -> None:
    """The upgrade headers survive the proxy (Streamlit answers 101) on the replica the cookie names,
    and the Clerk ``__session`` cookie rides along untouched."""
    keys = route_keys(proxy, 2)
    host = urlsplit(proxy.url).netloc
    for replica, key in keys.items():
        request = (
            f"GET {PREFIX}/_stcore/stream HTTP/1.1\r\nHost: {host}\r\nOrigin: {proxy.origin}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: streamlit\r\n"
            f"Cookie: {ROUTE_COOKIE}={key}; __session=not-a-real-token\r\n\r\n"
        ).encode()
        port = urlsplit(proxy.url).port
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(request)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                head += chunk
        status_line, *lines = head.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
        assert status_line.startswith("HTTP/1.1 101"), head
        assert headers.get("upgrade", "").lower() == "websocket"
        assert headers.get("sec-websocket-accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455's example
        assert headers[REPLICA_HEADER.lower()] == replica


@contextmanager
def echo_server() -> Iterator[str]:
    """A tiny upstream that answers every GET with the request headers it received, as JSON."""

    class Echo(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"path": self.path, "headers": dict(self.headers.items())}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_proxy_passes_clerks_cookie_and_the_browsers_host() -> None:
    """What the dashboard needs from the request reaches the replica unchanged: Clerk's same-site
    ``__session`` cookie, an ``Authorization`` header, the path with its prefix, and the Host with its
    port (Streamlit compares it with the websocket's Origin)."""
    with echo_server() as upstream, running_nginx((upstream,)) as proxy:
        request = urllib.request.Request(proxy.url + "/intents?x=1")
        request.add_header("Cookie", f"__session=eyJ.clerk.token; {ROUTE_COOKIE}=k1")
        request.add_header("Authorization", "Bearer eyJ.header.token")
        with urllib.request.urlopen(request, timeout=10) as resp:
            seen = json.loads(resp.read())
            assert resp.headers[REPLICA_HEADER] == "1"
        log = "\n".join(proxy.access_log())
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert seen["path"] == f"{PREFIX}/intents?x=1"
    assert "__session=eyJ.clerk.token" in headers["cookie"]
    assert headers["authorization"] == "Bearer eyJ.header.token"
    assert headers["host"] == urlsplit(proxy.url).netloc
    assert headers["x-forwarded-proto"] == "http" and headers["x-forwarded-for"] == "127.0.0.1"
    assert "eyJ" not in log, "the access log must not record tokens"


def test_uploads_up_to_streamlits_limit_pass_the_proxy(proxy: Proxy) -> None:
    """nginx's 1 MB default would cut uploads short; the limit follows server.maxUploadSize (20 MB)."""
    target = f"{proxy.url}/_stcore/upload_file/no-such-session/no-such-file"
    for _ in range(3):  # Streamlit refuses the unknown session, and may do so before reading the whole body:
        within = fetch(target, method="PUT", data=b"x" * (5 * 1024 * 1024))  # nginx then answers 502
        if within.status < 500:
            break
    assert within.status != 413 and within.status < 500, within
    assert within.headers[REPLICA_HEADER.lower()] in {"1", "2"}
    beyond = fetch(target, method="PUT", data=b"x" * (22 * 1024 * 1024))
    assert beyond.status == 413, beyond


def test_a_dead_replica_is_passed_over(replicas: tuple[App, App]) -> None:
    """Passive health checks: requests routed to a replica that refuses connections are served by a
    live one; its own health check says it is down; the pool's says the dashboard is up."""
    dead = f"127.0.0.1:{free_port()}"  # nothing listens there
    with running_nginx((address(replicas[0]), dead)) as proxy:
        for i in range(20):
            reply = fetch(proxy.url + "/", cookie=f"{ROUTE_COOKIE}=key{i}")
            assert reply.status == 200 and reply.headers[REPLICA_HEADER.lower()] == "1", (i, reply)
        assert fetch(proxy.url + "/healthz/2").status == 502
        assert fetch(proxy.url + "/healthz").status == 200
        assert "connect() failed" in proxy.error_log()


# -- two browsers, two replicas, one database ------------------------------------------------------

NEW_INTENT = "opening_hours_replica"


@pytest.mark.browser
def test_a_save_through_one_replica_shows_on_the_other(proxy: Proxy, replicas: tuple[App, App]) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    keys = route_keys(proxy, 2)

    def search(page: Page, text: str) -> None:
        box = page.get_by_label("Search by name or phrase", exact=True)
        box.fill(text)
        box.press("Enter")
        settle(page)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pages = {}
        for replica in ("1", "2"):
            context = browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC")
            context.set_default_timeout(20_000)
            context.add_cookies(
                [
                    {
                        "name": ROUTE_COOKIE,
                        "value": keys[replica],
                        "domain": "127.0.0.1",
                        "path": PREFIX,
                        "httpOnly": True,
                        "sameSite": "Lax",
                    }
                ]
            )
            page = context.new_page()
            response = page.goto(proxy.url + "/")
            assert response and response.headers.get(REPLICA_HEADER.lower()) == replica
            if not wait_for_gate(page):
                sign_in(page, "alice", "demo", "Alice")
            pages[replica] = page
        a, b = pages["1"], pages["2"]

        # B, on replica 2, looks first: her intents are now in replica 2's cache, without the new one.
        open_screen(b, "Intents", "Intents")
        expect(grid_cell(b, 1, 0)).not_to_be_empty()
        search(b, NEW_INTENT)
        expect(b.get_by_text(f"No intent matches “{NEW_INTENT}”.", exact=True)).to_be_visible()
        screenshot(b, "replicas-b-before")

        # A, on replica 1, adds an intent (an upload: it must reach A's own replica too).
        open_screen(a, "Intents", "Intents")
        a.get_by_text("Import intents from CSV or JSON").click()
        csv = (
            "intent_name,example_user_phrases,english_responses,russian_responses\r\n"
            f'{NEW_INTENT},"[""When are you open?""]","[""From 9 to 5.""]","[""С 9 до 17.""]"\r\n'
        )
        a.locator("[data-testid='stFileUploader'] input[type=file]").set_input_files(
            {"name": "intents.csv", "mimeType": "text/csv", "buffer": csv.encode()}
        )
        settle(a)
        a.get_by_role("button", name="Add 1 intent").click()
        settle(a)
        expect(a.get_by_text("Saved: 1 added, 0 changed, 0 deleted.")).to_be_visible()
        screenshot(a, "replicas-a-saved")

        # B's next render, on replica 2, shows it.
        open_screen(b, "Stats", "Stats")
        open_screen(b, "Intents", "Intents")
        search(b, NEW_INTENT)
        screenshot(b, "replicas-b-after")
        expect(grid_cell(b, 1, 0)).to_have_text(NEW_INTENT, timeout=5_000)

        for page in pages.values():
            page.context.close()
        browser.close()

    # Each browser stayed on its replica for every request, its websocket included.
    deadline = time.monotonic() + 10
    while True:
        lines = proxy.access_log()
        streams = {
            key: [ln for ln in lines if f"route={key} " in ln and "/_stcore/stream " in ln] for key in keys.values()
        }
        if all(streams.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for replica, key in keys.items():
        mine = [ln for ln in lines if f"route={key} " in ln and "/healthz " not in ln]
        assert mine, f"no request of browser {replica} in the access log"
        elsewhere = [ln for ln in mine if f"replica={replica} " not in ln]
        assert not elsewhere, f"browser {replica} reached another replica:\n" + "\n".join(elsewhere)
        assert any(" 101 " in ln for ln in streams[key]), f"no websocket of browser {replica}:\n" + "\n".join(mine)


# -- the shipped example ---------------------------------------------------------------------------


def test_the_shipped_example_is_the_generators_output() -> None:
    """deploy/nginx/dashboard.conf is what people copy: it must be what the generator renders today."""
    assert EXAMPLE.read_text(encoding="utf-8") == render_site(example_site()), (
        "deploy/nginx/dashboard.conf is stale: python -m deploy.nginx_conf --example > deploy/nginx/dashboard.conf"
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("prefix", "dashboard"),
        ("prefix", "/dashboard/"),
        ("prefix", "/a b"),
        ("replicas", ()),
        ("replicas", ("127.0.0.1",)),
        ("replicas", ("h:1", "h:1")),
        ("listen", "80; evil"),
        ("web_app", "ftp://x"),
    ],
)
def test_a_bad_site_is_refused(field: str, value: object) -> None:
    """Nothing that could break out of a directive reaches the rendered file."""
    fields: dict[str, object] = {"replicas": ("127.0.0.1:8501",), field: value}
    with pytest.raises(ValueError):
        ProxySite(**fields)  # type: ignore[arg-type]
