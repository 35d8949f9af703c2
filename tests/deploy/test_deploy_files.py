"""The deployment files stay consistent with the code (no docker engine here, so the compose
file is checked against the compose schema's essentials and against our settings)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from bot.settings import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SERVICE_KEYS = {
    "build",
    "image",
    "command",
    "environment",
    "env_file",
    "volumes",
    "depends_on",
    "healthcheck",
    "restart",
    "ports",
    "expose",
}


def compose() -> dict[str, object]:
    data = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_compose_file_is_valid() -> None:
    if (
        shutil.which("docker")
        and subprocess.run(
            ["docker", "compose", "version"], capture_output=True, check=False
        ).returncode
        == 0
    ):
        env = {"POSTGRES_PASSWORD": "x"}
        result = subprocess.run(
            ["docker", "compose", "-f", str(DEPLOY / "compose.yaml"), "config", "-q"],
            capture_output=True,
            check=False,
            env=env,
            cwd=DEPLOY,
        )
        assert result.returncode == 0, result.stderr
    data = compose()
    services = data["services"]
    assert isinstance(services, dict)
    assert set(services) == {"bot", "pgbouncer", "postgres", "redis", "nginx"}
    volumes = set(data.get("volumes") or {})  # type: ignore[arg-type]
    for name, svc in services.items():
        assert set(svc) <= SERVICE_KEYS, f"{name}: unknown keys {set(svc) - SERVICE_KEYS}"
        assert ("image" in svc) != ("build" in svc), f"{name}: exactly one of image/build"
        for dep in svc.get("depends_on") or {}:
            assert dep in services, f"{name} depends on unknown service {dep}"
        for vol in svc.get("volumes") or []:
            source = vol.split(":", 1)[0]
            if source.startswith("."):
                # Operator-made files (secrets) ship as ``<file>.example``.
                path = DEPLOY / source
                example = path.with_name(path.name + ".example")
                assert path.exists() or example.exists(), f"{name}: missing file {source}"
            else:
                assert source in volumes, f"{name}: undeclared volume {source}"
    for name in ("bot", "pgbouncer"):
        build = services[name]["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).is_file()


def test_the_bot_service_environment_names_real_settings() -> None:
    env = compose()["services"]["bot"]["environment"]  # type: ignore[index]
    fields = set(Settings.model_fields)
    for name in env:
        assert name.startswith("LINLI_")
        assert name.removeprefix("LINLI_").lower() in fields | {"config"}, name
    for line in (DEPLOY / ".env.example").read_text(encoding="utf-8").splitlines():
        m = re.match(r"#?\s*(LINLI_\w+)=", line)
        if m:
            assert m[1].removeprefix("LINLI_").lower() in fields, m[1]


def test_nginx_proxies_to_the_bot_port() -> None:
    conf = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    assert "server bot:8080;" in conf
    assert "8080" in compose()["services"]["bot"]["expose"]  # type: ignore[index]
    unit = (DEPLOY / "linli.service").read_text(encoding="utf-8")
    assert "ExecStart=/srv/linli/.venv/bin/linli serve" in unit


def test_the_example_settings_file_loads(tmp_path: Path) -> None:
    data = tomllib.loads((DEPLOY / "linli.toml.example").read_text(encoding="utf-8"))
    for kind in ("wechat_mp", "wecom_bot"):
        for account in data["channels"][kind].values():
            account["encoding_aes_key"] = "a" * 43
    settings = Settings.model_validate(data)
    assert settings.env == "production"
    assert not settings.try_enabled
    assert settings.channels.wecom_bot["residents"].committee == "puxiong"
    with pytest.raises(ValueError, match="43"):
        Settings.model_validate(
            {
                "channels": {
                    "wecom_bot": {
                        "x": {"token": "t", "encoding_aes_key": "short", "committee": "puxiong"}
                    }
                }
            }
        )
