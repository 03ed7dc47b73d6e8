"""deploy/ stays true: the systemd unit verifies, the nginx site parses and passes on only
routes copbot serves, and the Dockerfile installs copbot exactly as the README does.

No container engine runs here, so the Dockerfile is checked by reading it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bot.app import create_app
from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "deploy" / "copbot.service"
NGINX = ROOT / "deploy" / "nginx.conf"
DOCKERFILE = ROOT / "Dockerfile"
README = (ROOT / "README.md").read_text()


def readme_install_step() -> str:
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    run_bot = re.findall(r"```sh\n(.*?)```", quick, re.S)[0].strip()
    install, serve = run_bot.rsplit(" && ", 1)
    assert serve.startswith(".venv/bin/copbot serve")
    return install


def test_the_dockerfile_installs_copbot_as_the_readme_does() -> None:
    lines = DOCKERFILE.read_text().splitlines()
    runs = [line.removeprefix("RUN ").strip() for line in lines if line.startswith("RUN ")]
    assert readme_install_step() in runs
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0"), "copbot must not run as root"
    text = DOCKERFILE.read_text()
    assert re.search(r"^HEALTHCHECK .*\n?.*/healthz", text, re.M)
    assert 'VOLUME ["/data"]' in text and "COPBOT_DB=/data/copbot.db" in text
    assert re.search(r"^FROM python:3\.\d+-slim", text, re.M)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_the_systemd_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    # Verify inside a root of our own, where the unit's program and environment file
    # exist as they would once installed (systemd checks that they do).
    root = tmp_path / "root"
    program = root / "opt/copbot/.venv/bin/copbot"
    program.parent.mkdir(parents=True)
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    (root / "etc/copbot").mkdir(parents=True)
    (root / "etc/copbot/copbot.env").write_text("")
    units = root / "etc/systemd/system"
    units.mkdir(parents=True)
    shutil.copy(UNIT, units / "copbot.service")
    shutil.copytree(Path("/lib/systemd/system"), root / "usr/lib/systemd/system", symlinks=True)
    result = subprocess.run(
        ["systemd-analyze", "verify", f"--root={root}", "/etc/systemd/system/copbot.service"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "" and result.stdout.strip() == ""
    unit = UNIT.read_text()
    for hardening in ("User=copbot", "NoNewPrivileges=yes", "ProtectSystem=strict"):
        assert hardening in unit
    assert "Restart=on-failure" in unit


def test_nginx_passes_on_only_routes_copbot_serves(tmp_path: Path) -> None:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-deploy-test",
        "SLACK_SIGNING_SECRET": "deploy-test-secret",
        "SLACK_API_URL": "http://127.0.0.1:9/",  # never called: the app is built, not run
        "COPBOT_TEAMS": "on",
    }
    app = create_app(Settings.from_env(env, db=str(tmp_path / "copbot.db")))
    served = {r.canonical for r in app.router.resources()}
    text = NGINX.read_text()
    locations = re.findall(r"location (=\s*)?(/\S*) \{ proxy_pass", text)
    assert locations, "no proxied locations found"
    for exact, path in locations:
        if exact:
            assert path in served, f"nginx passes on {path}, which copbot does not serve"
        else:
            assert any(s.startswith(path) for s in served), f"nothing under {path}"
    passed = {path for _, path in locations}
    assert not passed & {"/metrics", "/", "/api/playground"}
    assert {"/privacy", "/terms"} <= passed  # the Teams manifest links to them
    assert re.search(r"location / \{\s*#[^\n]*\n\s*return 404;", text)


@pytest.mark.skipif(shutil.which("nginx") is None, reason="needs nginx (apt-get install nginx)")
def test_the_nginx_site_parses(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=copbot.test", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    site = (
        NGINX.read_text()
        .replace("/etc/ssl/certs/copbot.example.nhs.uk.pem", str(cert))
        .replace("/etc/ssl/private/copbot.example.nhs.uk.key", str(key))
        .replace("/var/log/nginx/", f"{tmp_path}/")
    )
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "proxy_params").write_text("proxy_set_header Host $http_host;\n")
    site = site.replace("/etc/nginx/proxy_params", str(tmp_path / "proxy_params"))
    (tmp_path / "site.conf").write_text(site)
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n  include {tmp_path}/site.conf;\n}}\n"
    )
    result = subprocess.run(
        ["nginx", "-t", "-c", str(main), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
