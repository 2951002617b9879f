"""nginx in front of N dashboard replicas: render the configuration (``python -m deploy.nginx_conf``).

Why a generator and not a hand-edited file: the replicas' addresses appear in three places (the
upstream, the map that names the replica that answered, the per-replica health checks) and the
upload limit must follow Streamlit's ``server.maxUploadSize``; rendering keeps them in step.
``deploy/nginx/dashboard.conf`` is this module's output for two replicas (a test keeps it so).

What the configuration does, and why:

* **Path prefix.** The dashboard lives under ``/dashboard/`` (``--prefix``) beside the web app on the
  same site, so the browser sends the web app's same-site cookies, Clerk's ``__session`` among them,
  to the dashboard too. Streamlit must run with ``--server.baseUrlPath`` equal to the prefix. nginx
  passes every cookie and the ``Authorization`` header through untouched and never logs them.
* **Websocket.** ``<prefix>/_stcore/stream`` is upgraded (HTTP/1.1, ``Upgrade``/``Connection``) and
  may stay quiet for an hour; Streamlit pings every 30 s anyway.
* **Sticky sessions.** A Streamlit session lives in one replica's memory, and its websocket, its file
  uploads and its media requests must reach that replica. nginx OSS has no ``sticky`` directive, so
  the proxy gives every new browser a random routing cookie (``dashboard_route``, from
  ``$request_id``) and hashes it consistently onto the replicas: one browser stays on one replica,
  browsers spread evenly, and adding a replica moves only about 1/N of them. The response header
  ``X-Dashboard-Replica`` says which replica (1..N) answered, without revealing its address.
* **Health.** nginx OSS checks passively: a replica that refuses or times out ``max_fails`` times is
  skipped for ``fail_timeout`` and idempotent requests are retried on the next one (a routing cookie
  that hashes to a dead replica is served by another; its Streamlit session starts afresh).
  ``<prefix>/healthz`` answers 200 while any replica is healthy (Streamlit's ``/_stcore/health``),
  ``<prefix>/healthz/<n>`` checks replica n alone, for an outside monitor or load balancer.
* **Uploads.** nginx refuses bodies over 1 MB by default; the limit here is Streamlit's
  ``server.maxUploadSize`` plus 1 MB of multipart overhead, so Streamlit's own message shows instead.
* **XSRF and CORS** stay on in Streamlit: the ``Host`` header (with its port) is passed unchanged,
  so the browser's ``Origin`` equals the host Streamlit sees and the websocket's same-origin check
  passes; Streamlit's XSRF token is a double-submit cookie, valid on every replica.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STREAMLIT_CONFIG = ROOT / ".streamlit" / "config.toml"
EXAMPLE = Path(__file__).resolve().parent / "nginx" / "dashboard.conf"
ROUTE_COOKIE = "dashboard_route"
REPLICA_HEADER = "X-Dashboard-Replica"
STREAMLIT_DEFAULT_UPLOAD_MB = 200  # Streamlit's own default for server.maxUploadSize

_PREFIX = re.compile(r"^(/[A-Za-z0-9._~-]+)+$")
_ADDRESS = re.compile(r"^[A-Za-z0-9.-]+:\d{1,5}$")
_LISTEN = re.compile(r"^([A-Za-z0-9.-]+:)?\d{1,5}$")
_URL = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")


def streamlit_upload_mb(config_path: Path = STREAMLIT_CONFIG) -> int:
    """Streamlit's ``server.maxUploadSize`` (MB) from the project's config.toml, or Streamlit's default."""
    try:
        server = tomllib.loads(config_path.read_text(encoding="utf-8")).get("server", {})
    except FileNotFoundError:
        return STREAMLIT_DEFAULT_UPLOAD_MB
    return int(server.get("maxUploadSize", STREAMLIT_DEFAULT_UPLOAD_MB))


@dataclass(frozen=True)
class ProxySite:
    """One site: the replicas (``host:port``), the dashboard's path prefix, where nginx listens, and
    optionally the web app's address (everything outside the prefix goes there)."""

    replicas: tuple[str, ...]
    prefix: str = "/dashboard"
    listen: str = "8080"
    web_app: str | None = None
    upload_mb: int = 0  # 0: follow .streamlit/config.toml
    max_fails: int = 2
    fail_timeout_s: int = 10

    def __post_init__(self) -> None:
        if not self.replicas:
            raise ValueError("at least one replica is needed")
        for address in self.replicas:
            if not _ADDRESS.match(address):
                raise ValueError(f"replica {address!r} is not host:port")
        if len(set(self.replicas)) != len(self.replicas):
            raise ValueError("a replica is listed twice")
        if not _PREFIX.match(self.prefix):
            raise ValueError(f"prefix {self.prefix!r} must look like /dashboard (no trailing slash)")
        if not _LISTEN.match(self.listen):
            raise ValueError(f"listen {self.listen!r} must be a port or host:port")
        if self.web_app is not None and not _URL.match(self.web_app):
            raise ValueError(f"web app {self.web_app!r} must be http(s)://host[:port]")

    @property
    def base_url_path(self) -> str:
        """The value for Streamlit's ``--server.baseUrlPath``."""
        return self.prefix.lstrip("/")

    @property
    def body_limit_mb(self) -> int:
        return (self.upload_mb or streamlit_upload_mb()) + 1


def _proxy_headers() -> list[str]:
    # proxy_set_header in a location replaces every inherited one, so each location gets the full set.
    return [
        "proxy_set_header Host $http_host;",
        "proxy_set_header X-Real-IP $remote_addr;",
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
    ]


def _dashboard_headers() -> list[str]:
    # add_header in a location also replaces inherited ones.
    return [
        f"add_header {REPLICA_HEADER} $dashboard_replica always;",
        "add_header Set-Cookie $dashboard_route_cookie;  # empty (not sent) once the browser has one",
    ]


def _block(head: str, lines: list[str], indent: str = "    ") -> list[str]:
    return [f"{head} {{", *(f"{indent}{line}" if line else "" for line in lines), "}"]


def render_site(site: ProxySite, access_log: str = "/var/log/nginx/dashboard.access.log") -> str:
    """The http-context part: maps, the upstream and a server block (for ``/etc/nginx/conf.d/``).

    To serve the dashboard inside an existing server block instead, copy the maps and the upstream
    to the http context and the ``location`` blocks into that server.
    """
    p = site.prefix
    valid_route = r"~^[A-Za-z0-9_-]{1,64}$"
    out: list[str] = [
        "# Rendered by `python -m deploy.nginx_conf`; see deploy/nginx_conf.py for why each part is here.",
        "",
        "# Websocket upgrade: Connection: upgrade only when the client asked for one.",
        *_block("map $http_upgrade $connection_upgrade", ["default upgrade;", "'' close;"]),
        "",
        f"# Sticky sessions: a browser's {ROUTE_COOKIE} cookie, or a fresh random key for a new browser.",
        *_block(
            f"map $cookie_{ROUTE_COOKIE} $dashboard_route",
            [f'"{valid_route}" $cookie_{ROUTE_COOKIE};', "default $request_id;"],
        ),
        *_block(
            f"map $cookie_{ROUTE_COOKIE} $dashboard_route_cookie",
            [f'"{valid_route}" "";', f'default "{ROUTE_COOKIE}=$request_id; Path={p}; HttpOnly; SameSite=Lax";'],
        ),
        "",
        "# Which replica answered (the last address tried), as 1..N: for logs and the response header.",
        *_block(
            "map $upstream_addr $dashboard_replica",
            [f'"~(^|[ ,]){re.escape(address)}$" {n};' for n, address in enumerate(site.replicas, 1)] + ['default "-";'],
        ),
        "",
        *_block(
            "upstream dashboard_replicas",
            [
                "hash $dashboard_route consistent;",
                *(
                    f"server {address} max_fails={site.max_fails} fail_timeout={site.fail_timeout_s}s;"
                    for address in site.replicas
                ),
            ],
        ),
        "",
        "# The HTTP API (/api/): stateless (every request carries its token), so no routing cookie: any replica.",
        *_block(
            "upstream dashboard_api",
            [
                "least_conn;",
                *(
                    f"server {address} max_fails={site.max_fails} fail_timeout={site.fail_timeout_s}s;"
                    for address in site.replicas
                ),
            ],
        ),
        "",
        "log_format dashboard '$remote_addr [$time_local] \"$request\" $status $body_bytes_sent '",
        f"                     'replica=$dashboard_replica upstream=$upstream_addr route=$cookie_{ROUTE_COOKIE} '",
        "                     'rt=$request_time';  # never $http_cookie or $http_authorization: they carry tokens",
        "# The API's log leaves out the query string: a signed link's signature is in it.",
        "log_format dashboard_api '$remote_addr [$time_local] \"$request_method $uri\" $status $body_bytes_sent '",
        "                         'replica=$dashboard_replica upstream=$upstream_addr rt=$request_time';",
        "",
    ]
    common = [
        "proxy_http_version 1.1;",
        *_proxy_headers(),
        "proxy_connect_timeout 2s;",
        "proxy_next_upstream error timeout http_502 http_503 http_504;  # idempotent requests only",
        "proxy_next_upstream_tries 2;",
    ]
    server: list[str] = [
        f"listen {site.listen};",
        "absolute_redirect off;  # redirects keep the browser's host and port",
        "# Every location passes Host with its port ($http_host): Streamlit's websocket compares it to Origin.",
        f"access_log {access_log} dashboard;",
        "",
        *_block(f"location = {p}", [f"return 308 {p}/;"]),
        "",
        *_block(
            f"location {p}/",
            [
                "proxy_pass http://dashboard_replicas;",
                *common,
                f"client_max_body_size {site.body_limit_mb}m;  # Streamlit's server.maxUploadSize + 1 MB",
                *_dashboard_headers(),
            ],
        ),
        "",
        *_block(
            f"location = {p}/_stcore/stream",
            [
                "proxy_pass http://dashboard_replicas;",
                *common,
                "proxy_set_header Upgrade $http_upgrade;",
                "proxy_set_header Connection $connection_upgrade;",
                "proxy_read_timeout 3600s;",
                "proxy_send_timeout 3600s;",
                "proxy_buffering off;",
                *_dashboard_headers(),
            ],
        ),
        "",
        "# The HTTP API, served by the replicas at the site's root (whatever the prefix); exports are streamed.",
        *_block(
            "location /api/",
            [
                "proxy_pass http://dashboard_api;",
                *common,
                "proxy_buffering off;  # a million-row CSV goes straight through, never to nginx's disk",
                "proxy_read_timeout 330s;  # EXPORT_TIMEOUT_SECONDS (300) and some",
                f"access_log {access_log.removesuffix('.log')}-api.log dashboard_api;",
                f"add_header {REPLICA_HEADER} $dashboard_replica always;",
            ],
        ),
        "",
        "# Health: 200 while any replica is healthy; /healthz/<n> checks replica n alone.",
        *_block(
            f"location = {p}/healthz",
            [
                f"proxy_pass http://dashboard_replicas{p}/_stcore/health;",
                *common,
                f"add_header {REPLICA_HEADER} $dashboard_replica always;",
            ],
        ),
    ]
    for n, address in enumerate(site.replicas, 1):
        server += [
            "",
            *_block(
                f"location = {p}/healthz/{n}",
                [
                    f"proxy_pass http://{address}{p}/_stcore/health;",
                    *_proxy_headers(),
                    "proxy_connect_timeout 2s;",
                    "proxy_read_timeout 5s;",
                ],
            ),
        ]
    if site.web_app:
        server += [
            "",
            "# Everything else is the web app (its Clerk session cookie is same-site with the dashboard).",
            *_block(
                "location /",
                [
                    f"proxy_pass {site.web_app};",
                    "proxy_http_version 1.1;",
                    *_proxy_headers(),
                    "proxy_set_header Upgrade $http_upgrade;",
                    "proxy_set_header Connection $connection_upgrade;",
                ],
            ),
        ]
    server = [line for i, line in enumerate(server) if line or (i and server[i - 1])]  # no double blanks
    out += _block("server", server)
    return "\n".join(out) + "\n"


def render_standalone(site: ProxySite, run_dir: Path) -> str:
    """A complete nginx.conf that keeps every file (pid, logs, temp bodies) in ``run_dir`` and runs in
    the foreground: ``nginx -c <run_dir>/nginx.conf``. It needs no root and no system service; as root,
    nginx's workers run as ``nobody``, so ``run_dir`` must be readable by everyone."""
    run = run_dir.resolve()
    head = [
        "# Rendered by `python -m deploy.nginx_conf --standalone`; start with: nginx -c <this file>",
        "daemon off;",
        "worker_processes 1;",
        f"pid {run}/nginx.pid;",
        f"error_log {run}/error.log notice;",
        "",
        *_block("events", ["worker_connections 1024;"]),
        "",
    ]
    http = [
        f"client_body_temp_path {run}/tmp/body;",
        f"proxy_temp_path {run}/tmp/proxy;",
        f"fastcgi_temp_path {run}/tmp/fastcgi;",
        f"uwsgi_temp_path {run}/tmp/uwsgi;",
        f"scgi_temp_path {run}/tmp/scgi;",
        "default_type application/octet-stream;",
        "",
        *render_site(site, access_log=f"{run}/access.log").splitlines(),
    ]
    return "\n".join([*head, *_block("http", http)]) + "\n"


def example_site() -> ProxySite:
    """What deploy/nginx/dashboard.conf is rendered from: two replicas beside a web app on port 3000."""
    return ProxySite(
        replicas=("127.0.0.1:8501", "127.0.0.1:8502"), prefix="/dashboard", listen="80", web_app="http://127.0.0.1:3000"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.nginx_conf", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--replica",
        action="append",
        default=[],
        metavar="HOST:PORT",
        help="a dashboard replica (repeat for each); default: 127.0.0.1:8501 and :8502",
    )
    parser.add_argument("--prefix", default="/dashboard", help="path prefix = Streamlit's server.baseUrlPath")
    parser.add_argument("--listen", default="8080", help="port or host:port nginx listens on")
    parser.add_argument("--web-app", help="http(s)://host:port of the web app served outside the prefix")
    parser.add_argument(
        "--standalone",
        type=Path,
        metavar="RUN_DIR",
        help="write a complete nginx.conf into RUN_DIR (pid, logs, temp files there too)",
    )
    parser.add_argument("--example", action="store_true", help="print deploy/nginx/dashboard.conf's content")
    args = parser.parse_args(argv)
    try:
        site = (
            example_site()
            if args.example
            else ProxySite(
                replicas=tuple(args.replica or ("127.0.0.1:8501", "127.0.0.1:8502")),
                prefix=args.prefix,
                listen=args.listen,
                web_app=args.web_app,
            )
        )
    except ValueError as err:
        parser.error(str(err))
    if args.standalone:
        args.standalone.mkdir(parents=True, exist_ok=True)
        (args.standalone / "tmp").mkdir(exist_ok=True)
        conf = args.standalone / "nginx.conf"
        conf.write_text(render_standalone(site, args.standalone), encoding="utf-8")
        print(f"wrote {conf}; start it with: /usr/sbin/nginx -c {conf.resolve()}")
    else:
        sys.stdout.write(render_site(site))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
