"""Production serving for real: collectstatic, gunicorn with the production settings, whitenoise
serving hashed static files, HTTPS enforced."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        # Generous: the first request loads the whole app in the worker, slow on a busy machine.
        with opener.open(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture(scope="module")
def production_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("prod")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "destination.settings.production",
        "DJANGO_SECRET_KEY": "test-" + "k" * 60,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_STATIC_ROOT": str(tmp / "static"),
        "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
        "ALLOW_SQLITE_IN_PRODUCTION": "1",
        "WEB_CONCURRENCY": "1",
    }
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    port = _free_port()
    env["GUNICORN_BIND"] = f"127.0.0.1:{port}"
    server = subprocess.Popen(
        [VENV_BIN / "gunicorn", "destination.wsgi", "--config", "gunicorn.conf.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield base, tmp / "static"
    finally:
        server.terminate()
        server.wait(timeout=10)


HTTPS = {"X-Forwarded-Proto": "https", "Host": "127.0.0.1"}


def test_plain_http_is_redirected_to_https(production_server):
    base, _static = production_server
    status, headers, _body = _get(f"{base}/health/", {"Host": "127.0.0.1"})
    assert status == 301
    assert headers["Location"].startswith("https://")


def test_health_answers_with_hsts(production_server):
    base, _static = production_server
    status, headers, body = _get(f"{base}/health/", HTTPS)
    assert status == 200
    assert json.loads(body) == {"status": "ok"}
    assert "max-age=31536000" in headers["Strict-Transport-Security"]


def test_hashed_static_files_are_served_compressed_and_cached_forever(production_server):
    base, static_root = production_server
    manifest = json.loads((static_root / "staticfiles.json").read_text())
    hashed = manifest["paths"]["wagtailadmin/css/core.css"]
    status, headers, _body = _get(f"{base}/static/{hashed}", {**HTTPS, "Accept-Encoding": "gzip"})
    assert status == 200
    assert headers.get("Content-Encoding") == "gzip"
    assert "immutable" in headers["Cache-Control"]
