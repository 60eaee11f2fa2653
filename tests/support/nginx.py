"""nginx with docs/nginx.conf as its only site, in a private prefix.

Shared by the end-to-end test (tests/e2e/test_nginx.py) and the multi-process
bench (bench/multiprocess.py), so both run the documented site and only
change what a private instance must: the upstream ports, the listen address
and the process-level settings around the site.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

from tests.support.services import free_port, missing, port_open

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "docs" / "nginx.conf"


def site_config(upstream_ports: list[int], port: int, *, reuseport: bool = False) -> str:
    """docs/nginx.conf with one ``server`` line per upstream port, listening on ``port``."""
    if not upstream_ports:
        raise ValueError("nginx needs at least one upstream port")
    site = SITE.read_text()
    servers = "".join(f"    server 127.0.0.1:{p} max_fails=0;\n" for p in upstream_ports)
    site = re.sub(r"(?m)^    server 127\.0\.0\.1:\d+ max_fails=0;\n", "", site)
    site = site.replace("upstream realtime {\n", "upstream realtime {\n" + servers, 1)
    listen = f"127.0.0.1:{port} reuseport" if reuseport else f"127.0.0.1:{port}"
    site = site.replace("listen 80;", f"listen {listen};")
    return site.replace("server_name notes.example.com;", "server_name 127.0.0.1;")


class Nginx:
    """One nginx master and its workers, started and stopped by pid.

    ``workers``, ``connections`` and ``files`` are the process-level settings
    (``worker_processes``, ``worker_connections``, ``worker_rlimit_nofile``).
    The defaults suit a test; the bench spreads 20,000 clients over several
    workers, each with its own listening socket (``reuseport``) so the kernel
    shares the connections out evenly, because a proxied socket costs a worker
    two file descriptors and one process may hold only so many.
    """

    def __init__(
        self,
        upstream_ports: list[int],
        prefix: Path,
        *,
        workers: int = 1,
        connections: int = 1024,
        files: int | None = None,
        access_log: bool = True,
    ) -> None:
        binary = shutil.which("nginx", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
        if binary is None:
            missing("nginx is not installed (apt-get install nginx-light)")
        self.binary = binary
        self.port = free_port()
        self.prefix = prefix
        site = site_config(upstream_ports, self.port, reuseport=workers > 1)
        for sub in ("logs", "tmp"):
            (prefix / sub).mkdir(parents=True, exist_ok=True)
        (prefix / "nginx.conf").write_text(
            f"worker_processes {workers};\n"
            + (f"worker_rlimit_nofile {files};\n" if files else "")
            + "error_log logs/error.log warn;\n"
            "pid logs/nginx.pid;\n"
            f"events {{ worker_connections {connections}; }}\n"
            "http {\n"
            + ("  access_log logs/access.log;\n" if access_log else "  access_log off;\n")
            + "  client_body_temp_path tmp/body;\n  proxy_temp_path tmp/proxy;\n"
            "  fastcgi_temp_path tmp/fcgi;\n  uwsgi_temp_path tmp/uwsgi;\n"
            "  scgi_temp_path tmp/scgi;\n"
            f"{site}\n"
            "}\n"
        )
        self.proc: subprocess.Popen | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/notes/"

    def start(self) -> Nginx:
        cmd = [self.binary, "-p", str(self.prefix), "-c", "nginx.conf", "-g", "daemon off;"]
        self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while not port_open(self.port):
            if self.proc.poll() is not None:
                raise RuntimeError(self.proc.stderr.read().decode())
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("nginx did not start")
            time.sleep(0.05)
        return self

    def worker_pids(self) -> list[int]:
        """The master's children (the workers), from /proc."""
        assert self.proc is not None
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(pid) for pid in path.read_text().split()]

    def stop(self) -> None:
        """SIGQUIT would wait for every proxied socket to close; SIGTERM is the fast stop."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            self.proc = None
