"""Real egress servers for the tests: Debian's squid (an HTTP proxy) and nginx (a TLS
front for a fake provider), each started on free loopback ports with its own config.

`make setup` installs both when missing (tools/install_egress_servers.sh). Squid
resolves the made-up names of `HOSTS` from its own hosts file: nothing else on the
machine can, so a request that reached a provider by one of those names went through
the proxy.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.pki import Issued
from tests.ports import free_port

PROVIDER_HOST = "provider.egress.test"
REFUSED_HOST = "refused.egress.test"  # squid denies every request to it (403)
HOSTS = (PROVIDER_HOST, REFUSED_HOST)
PROXY_USER = "svc-router"
PROXY_PASSWORD = "egress-proxy-password-7f3a"  # a throwaway for the local test proxy


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _binary(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if found is None:
        pytest.fail(f"{name} is not installed: run `make setup` (tools/install_egress_servers.sh)")
    return found


def wait_for(
    condition: Callable[[], bool], what: str, process: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited:\n{_tail(log)}")
        if condition():
            return
        time.sleep(0.05)  # polling a condition with a bound, not a guess
    raise RuntimeError(f"{what} did not start:\n{_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"


def _stop(process: subprocess.Popen[bytes] | None, sig: signal.Signals) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


class Squid:
    """Two ports: `open_port` lets anyone through, `auth_port` wants PROXY_USER's basic
    credentials; both refuse REFUSED_HOST. Its access log is `log_lines()`."""

    def __init__(self) -> None:
        self._binary = _binary("squid")
        # Squid drops root for its own user, which must read its config and write its
        # logs: a folder of its own, not inside pytest's private temp tree.
        self.directory = Path(tempfile.mkdtemp(prefix="egress-squid-"))
        self.open_port = free_port()
        self.auth_port = free_port()
        self._service = "egress" + "".join(c for c in self.directory.name if c.isalnum())[-12:]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        d = self.directory
        (d / "hosts").write_text("".join(f"127.0.0.1 {name}\n" for name in HOSTS))
        digest = (
            subprocess.run(
                ["openssl", "passwd", "-apr1", PROXY_PASSWORD], check=True, capture_output=True
            )
            .stdout.decode()
            .strip()
        )
        (d / "passwd").write_text(f"{PROXY_USER}:{digest}\n")
        (d / "squid.conf").write_text(
            f"""
http_port 127.0.0.1:{self.open_port} name=open
http_port 127.0.0.1:{self.auth_port} name=auth
pid_filename none
cache deny all
cache_mem 8 MB
cache_dir null {d}
access_log stdio:{d}/access.log
cache_log {d}/cache.log
cache_store_log none
logfile_rotate 0
coredump_dir {d}
hosts_file {d}/hosts
dns_nameservers 127.0.0.1
pinger_enable off
shutdown_lifetime 0 seconds
auth_param basic program /usr/lib/squid/basic_ncsa_auth {d}/passwd
auth_param basic realm egress-test
acl via_auth myportname auth
acl authenticated proxy_auth REQUIRED
acl refused dstdomain {REFUSED_HOST}
http_access deny refused
http_access allow via_auth authenticated
http_access deny via_auth
http_access allow all
"""
        )
        if os.geteuid() == 0:
            proxy_user = pwd.getpwnam("proxy")
            for path in [d, *d.iterdir()]:
                os.chown(path, proxy_user.pw_uid, proxy_user.pw_gid)
        log = d / "squid.out"
        with log.open("ab") as sink:
            self.process = subprocess.Popen(
                # Its own service name: squid names its shared memory after it, and two
                # test runs side by side must not share (or leave behind) segments.
                [self._binary, "-N", "-n", self._service, "-f", str(d / "squid.conf")],
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(
            lambda: _listening(self.open_port) and _listening(self.auth_port),
            "squid",
            self.process,
            d / "cache.log",
        )

    def log_lines(self) -> list[str]:
        path = self.directory / "access.log"
        return path.read_text(errors="replace").splitlines() if path.exists() else []

    def wait_for_line(self, *parts: str) -> str:
        """The access-log line holding every part; squid writes a tunnel's line when it
        closes, so callers close their connections first."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for line in self.log_lines():
                if all(part in line for part in parts):
                    return line
            time.sleep(0.05)  # polling a condition with a bound, not a guess
        raise AssertionError(f"no squid log line with {parts}:\n" + "\n".join(self.log_lines()))

    def stop(self) -> None:
        _stop(self.process, signal.SIGTERM)
        shutil.rmtree(self.directory, ignore_errors=True)


class Nginx:
    """One TLS port per certificate in `sites`, each proxying to the plain-HTTP provider
    on `upstream_port` (a fake provider the test starts there)."""

    def __init__(self, directory: Path, sites: dict[str, Issued], upstream_port: int) -> None:
        self._binary = _binary("nginx")
        self.directory = directory
        self.upstream_port = upstream_port
        self.ports = {name: free_port() for name in sites}
        self._sites = sites
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, site: str = "good", host: str = "localhost") -> str:
        """The base URL of the provider behind `site`'s certificate, under `host`."""
        return f"https://{host}:{self.ports[site]}/v1"

    def start(self) -> None:
        d = self.directory
        d.mkdir(parents=True, exist_ok=True)
        servers = "".join(
            f"""
    server {{
        listen 127.0.0.1:{self.ports[name]} ssl;
        ssl_certificate {issued.cert};
        ssl_certificate_key {issued.key};
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {{
            proxy_pass http://127.0.0.1:{self.upstream_port};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }}
    }}"""
            for name, issued in self._sites.items()
        )
        temp = "".join(
            f"    {kind}_temp_path {d}/{kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        # One process (no master, no workers that drop root): a test server, not a deployment.
        (d / "nginx.conf").write_text(
            f"""
daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {d}/access.log;
{temp}{servers}
}}
"""
        )
        log = d / "error.log"
        self.process = subprocess.Popen(
            [self._binary, "-p", str(d), "-c", str(d / "nginx.conf"), "-e", str(log)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for(
            lambda: all(_listening(port) for port in self.ports.values()),
            "nginx",
            self.process,
            log,
        )

    def access_lines(self) -> list[str]:
        path = self.directory / "access.log"
        return path.read_text(errors="replace").splitlines() if path.exists() else []

    def stop(self) -> None:
        _stop(self.process, signal.SIGQUIT)
