"""The deployment files, checked for what a broken deploy would miss: the compose stack, the
Nomad jobs, the Caddy configs, coturn's and LiveKit's configs, the Dockerfile.

No Docker engine or Nomad cluster runs here: the files are parsed (pyyaml, python-hcl2) and
cross-checked against moot itself (its settings, its routes). Where the real program is
installed, it checks its own config too: `caddy validate`, and a real coturn started from
deploy/coturn/turnserver.conf that must accept the TURN credentials moot mints.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import hcl2
import msgspec
import pytest
import yaml
from hcl2 import SerializationOptions

from moot.settings import Settings, env_name, load_settings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
NOMAD = DEPLOY / "nomad"
SETTINGS = {env_name(field.name) for field in msgspec.structs.fields(Settings)}

# A name that says "secret": its value must come from .env.local / Nomad Variables.
SECRET_NAME = re.compile(r"PASSWORD|SECRET|(^|_)KEYS?$|TOKEN")
# What .env.local would hold in a real deploy (the test's stand-in values).
SECRETS = {
    "POSTGRES_PASSWORD": "pg-password-0123456789abcdef",
    "MOOT_SECRET_KEY": "k" * 48,
    "MOOT_LIVEKIT_API_KEY": "APImoot",
    "MOOT_LIVEKIT_API_SECRET": "s" * 40,
    "MOOT_TURN_SECRET": "turn-secret-0123456789abcdef",
}
PUBLIC = {"MOOT_DOMAIN": "meet.example.net", "LIVEKIT_DOMAIN": "livekit.meet.example.net"}


# -- reading the files ---------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


_REFERENCE = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's variable substitution: ${V}, ${V:-default}, ${V-default}, ${V:?error},
    ${V?error}, $V and $$. A missing required variable raises KeyError with its message."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        value = env.get(name)
        empty = value is None or (value == "" and op is not None and op.startswith(":"))
        if op in ("-", ":-"):
            return arg if empty else str(value)
        if op in ("?", ":?"):
            if empty:
                raise KeyError(f"{name}: {arg}")
            return str(value)
        return value or ""

    return _REFERENCE.sub(replace, value)


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def read_env_file(path: Path) -> dict[str, str]:
    from moot.settings import read_env_file as read

    return read(path)


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def image_env() -> dict[str, str]:
    """The runtime stage's ENV, as the container starts with it."""
    runtime = dockerfile().rsplit("\nFROM ", 1)[1]
    env: dict[str, str] = {}
    for block in re.findall(r"^ENV (.+?)(?<!\\)$", runtime, flags=re.M | re.S):
        for key, value in re.findall(r"([A-Z_][A-Z0-9_]*)=(\S+)", block):
            env[key] = value
    return env


def image_healthcheck() -> list[str]:
    """The runtime's HEALTHCHECK command as Docker runs it (exec form, JSON)."""
    match = re.search(r"^HEALTHCHECK [^\n]*\\\n\s*CMD (\[.*\])$", dockerfile(), flags=re.M)
    assert match, "HEALTHCHECK ... CMD [...] not found"
    command: list[str] = json.loads(match.group(1))
    return command


def nomad(name: str) -> dict[str, Any]:
    options = SerializationOptions(
        strip_string_quotes=True,
        explicit_blocks=False,
        with_comments=False,
        preserve_heredocs=False,
    )
    with (NOMAD / name).open() as file:
        data: dict[str, Any] = hcl2.load(file, serialization_options=options)
    return data


def job(name: str) -> tuple[str, dict[str, Any]]:
    data = nomad(name)
    ((job_name, body),) = data["job"][0].items()
    return job_name, body


def nomad_variables(name: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for block in nomad(name).get("variable", []):
        for key, body in block.items():
            out[key] = body.get("default")
    return out


def groups(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: group for block in body["group"] for name, group in block.items()}


def tasks(group: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: task for block in group["task"] for name, task in block.items()}


def resolve(value: Any, variables: dict[str, Any]) -> Any:
    """`${var.x}` → the variable's default."""
    if isinstance(value, str) and (found := re.fullmatch(r"\$\{var\.(\w+)\}", value)):
        return variables[found.group(1)]
    return value


def unescape(template: str) -> str:
    return template.replace('\\"', '"')


JOBS = sorted(path.name for path in NOMAD.glob("*.nomad.hcl"))


# -- the Dockerfile and .dockerignore ------------------------------------------------------------


def test_the_image_builds_in_stages_and_runs_moot_as_a_non_root_user() -> None:
    text = dockerfile()
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", text, flags=re.M))
    stages = [
        re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)
        for image in re.findall(r"^FROM (\S+)", text, flags=re.M)
    ]
    assert stages[0].startswith("node:20") and stages[-1] == "python:3.11-slim"
    assert len(stages) >= 3
    assert re.search(r"npm ci", text) and re.search(r"npm run build", text)
    assert re.search(r"pip wheel", text)

    runtime = text.rsplit("\nFROM ", 1)[1]
    users = re.findall(r"^USER (\S+)", runtime, flags=re.M)
    assert users and users[-1] not in ("root", "0", "0:0")
    assert re.search(r"^ENTRYPOINT \[\"moot\"\]$", runtime, flags=re.M)
    assert re.search(r"^CMD \[\"serve\"\]$", runtime, flags=re.M)
    healthcheck = re.search(r"^HEALTHCHECK .*?(?<!\\)$", runtime, flags=re.M | re.S)
    assert healthcheck and "/health" in healthcheck.group(0)
    assert image_healthcheck()[:2] == ["python", "-c"]  # tests/test_scale_out.py runs it
    assert "COPY --from=web /web/dist /app/web" in runtime


def test_the_image_installs_the_locked_dependencies_then_moot_without_resolving() -> None:
    stages = dockerfile().split("\nFROM ")
    wheels = next(stage for stage in stages if stage.startswith("${PYTHON_IMAGE} AS wheels"))
    runtime = stages[-1]
    assert re.search(r"^COPY requirements/app\.txt ", wheels, flags=re.M)
    assert re.search(
        r"^RUN pip wheel .*--require-hashes .*-r requirements/app\.txt$", wheels, flags=re.M
    )
    assert re.search(r"^RUN pip wheel .*--no-deps \.$", wheels, flags=re.M)
    install = re.search(r"^RUN --mount.*?(?<!\\)$", runtime, flags=re.M | re.S)
    assert install, "the runtime's install step not found"
    assert re.search(
        r"pip install --no-index .*--require-hashes -r /requirements/app\.txt", install.group(0)
    )
    assert re.search(r"pip install --no-index --no-deps /wheels/moot-\*\.whl", install.group(0))


def _locked(name: str) -> dict[str, str]:
    """requirements/<name>: each pinned package's normalised name → its version; every pin
    carries its hashes, and nothing names an index (the machine's mirror is not the project's)."""
    text = (ROOT / "requirements" / name).read_text()
    assert not re.search(r"^-|--(extra-)?index-url|--find-links|file:", text, flags=re.M)
    pins: dict[str, str] = {}
    for entry in re.split(r"\n(?=[a-z0-9])", text.split("\n", 2)[2].strip()):
        found = re.match(r"([a-z0-9][a-z0-9._-]*)==(\S+)", entry)
        assert found and "--hash=sha256:" in entry, entry
        pins[found.group(1)] = found.group(2)
    return pins


def test_the_lock_files_pin_every_dependency_pyproject_declares() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    def names(requirements: list[str]) -> set[str]:
        return {
            re.sub(r"[-_.]+", "-", re.split(r"[^A-Za-z0-9._-]", spec, maxsplit=1)[0]).lower()
            for spec in requirements
        }

    app, dev = _locked("app.txt"), _locked("dev.txt")
    runtime = names(project["dependencies"])
    extras = names(project["optional-dependencies"]["dev"])
    assert runtime <= set(app), runtime - set(app)  # stale: scripts/dev lock
    assert runtime | extras <= set(dev), (runtime | extras) - set(dev)
    assert {name: dev[name] for name in app} == app  # the image runs what CI tested


def test_the_image_environment_is_moot_settings_and_holds_no_secret() -> None:
    env = image_env()
    assert env["MOOT_HOST"] == "0.0.0.0"
    assert env["MOOT_WEB_DIR"] == "/app/web"
    moot = {key for key in env if key.startswith("MOOT_")}
    assert moot <= SETTINGS, moot - SETTINGS
    assert not [key for key in env if SECRET_NAME.search(key)]
    assert not re.search(r"^(COPY|ADD) .*\.env", dockerfile(), flags=re.M)


def _dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule, simply: a path is out when it or a parent matches a pattern, the last
    matching pattern deciding (`!` re-includes); `*` stays within a path segment."""

    def regex(pattern: str) -> re.Pattern[str]:
        out = ""
        for part in re.split(r"(\*\*/|\*\*|\*|\?)", pattern.strip("/")):
            out += {"**/": "(.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(
                part, re.escape(part)
            )
        return re.compile(out)

    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = regex(raw.lstrip("!"))
        if any(pattern.fullmatch(prefix) for prefix in prefixes):
            ignored = not negate
    return ignored


def test_dockerignore_keeps_secrets_and_local_artefacts_out_of_the_build_context() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    for path in (
        ".env.local",
        ".env",
        "web/.env.local",
        "web/node_modules/react/index.js",
        "web/dist/index.html",
        ".venv/bin/python",
        ".git/HEAD",
        "bench/results/run.json",
        "src/moot/__pycache__/app.cpython-311.pyc",
        ".moot/postgres/PG_VERSION",
        "tests/conftest.py",
    ):
        assert _dockerignored(path, patterns), path
    # What the Dockerfile copies must stay in.
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile(), flags=re.M)
    sources = [source.rstrip("/") for line in copied for source in line.split()]
    assert "web" in sources and "pyproject.toml" in sources
    for source in sources:
        for found in ROOT.glob(source) if "*" in source else [ROOT / source]:
            assert not _dockerignored(str(found.relative_to(ROOT)), patterns), source
    for path in (
        "src/moot/app.py",
        "migrations/0001_rooms.sql",
        "README.md",
        "web/package.json",
        "web/src/main.tsx",
    ):
        assert not _dockerignored(path, patterns), path


# -- docker-compose.yml --------------------------------------------------------------------------


def test_every_service_has_an_image_or_a_build_and_the_stack_is_complete() -> None:
    found = services()
    assert {"migrate", "api", "worker", "postgres", "redis", "livekit", "coturn", "caddy"} <= set(
        found
    )
    for name, service in found.items():
        assert service.get("image") or service.get("build"), name
    moot_image = {found[name].get("image") for name in ("migrate", "api", "worker")}
    assert len(moot_image) == 1  # one image, three roles
    assert found["api"]["deploy"]["replicas"] >= 2
    assert found["migrate"]["command"] == ["migrate"]
    assert found["api"]["command"] == ["serve"]
    assert found["worker"]["command"] == ["worker"]


def test_every_long_running_service_has_a_health_check_and_waits_for_its_dependencies() -> None:
    found = services()
    for name, service in found.items():
        if name == "migrate":  # one-shot: it exits, it is never "healthy"
            assert service.get("restart") == "no"
            continue
        check = service.get("healthcheck")
        assert check and not check.get("disable") and check.get("test"), name
    for name, service in found.items():
        for dependency, rule in (service.get("depends_on") or {}).items():
            assert dependency in found, (name, dependency)
            condition = rule["condition"]
            if condition == "service_healthy":
                assert found[dependency].get("healthcheck"), (name, dependency)
            else:
                assert condition == "service_completed_successfully", (name, dependency)
    for name in ("api", "worker"):
        depends = found[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
    assert found["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_the_moot_services_set_only_real_settings() -> None:
    for name in ("migrate", "api", "worker"):
        names = {key for key in environment(services()[name]) if key.startswith("MOOT_")}
        assert names <= SETTINGS, (name, names - SETTINGS)


def _container_settings(name: str, tmp_path: Path, **extra: str) -> Settings:
    """What `moot` inside this service's container would load: the image's ENV, then the
    service's environment as compose interpolates it from .env and .env.local."""
    env = {**read_env_file(ROOT / ".env"), **PUBLIC, **SECRETS, **extra}
    values = {**image_env()}
    for key, value in environment(services()[name]).items():
        values[key] = interpolate(value, env)
    return load_settings(environ=values, env_dir=tmp_path)


def test_the_api_environment_is_a_valid_moot_configuration_for_the_stack(tmp_path: Path) -> None:
    api = _container_settings("api", tmp_path)
    assert (api.host, api.port) == ("0.0.0.0", 8000)
    assert urlsplit(api.database_url).hostname == "postgres"
    assert urlsplit(api.redis_url).hostname == "redis"
    assert api.secret_key == SECRETS["MOOT_SECRET_KEY"]
    assert api.worker_embedded is False
    assert api.worker_public_url == "wss://meet.example.net/ws/transcribe"
    livekit = api.livekit()
    assert livekit is not None and livekit.server_url == "http://livekit:7880"
    assert api.livekit_url == "wss://livekit.meet.example.net"
    assert api.turn_secret == SECRETS["MOOT_TURN_SECRET"]
    assert api.turn_servers.startswith("turn:meet.example.net:3478")
    assert api.forwarded_allow_ips == "*"

    worker = _container_settings("worker", tmp_path, MOOT_GLADIA_API_KEY="gladia-key")
    assert (worker.host, worker.worker_port) == ("0.0.0.0", 8001)
    assert worker.gladia_api_key == "gladia-key"
    assert worker.database_url == api.database_url and worker.secret_key == api.secret_key
    migrate = _container_settings("migrate", tmp_path)
    assert migrate.database_url == api.database_url and not migrate.embedded


def test_secrets_are_required_references_never_literals() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for name, service in services().items():
        values = list(environment(service).items())
        command = service.get("command") or []
        values += [
            (item.split("=", 1)[0], item.split("=", 1)[1])
            for item in command
            if isinstance(item, str) and "=" in item
        ]
        for key, value in values:
            if not SECRET_NAME.search(key.upper().replace("-", "_")):
                continue
            references = re.findall(r"\$\{(\w+)(:?[-?])?([^}]*)\}", value)
            assert references, f"{name}: {key} is a literal"
            literal = re.sub(r"\$\{[^}]*\}", "", value)
            assert not re.search(r"\w", literal), (name, key, value)
            for _, op, arg in references:
                # Required (`:?`), or optional and empty by default (`:-` with nothing).
                assert op == ":?" or (op == ":-" and arg == ""), (name, key, value)
    # Passwords inside URLs too.
    for name in ("migrate", "api", "worker"):
        url = environment(services()[name])["MOOT_DATABASE_URL"]
        assert re.fullmatch(
            r"postgresql://moot:\$\{POSTGRES_PASSWORD:\?[^}]+\}@postgres:5432/moot", url
        ), url
    # A missing secret stops compose with a message naming the file to put it in.
    env = {**read_env_file(ROOT / ".env"), **PUBLIC}
    with pytest.raises(KeyError, match=r"POSTGRES_PASSWORD: set POSTGRES_PASSWORD in \.env\.local"):
        interpolate(environment(services()["postgres"])["POSTGRES_PASSWORD"], env)
    for required in SECRETS:
        assert re.search(r"\$\{" + required + r":\?[^}]*\.env\.local", text), required
    # The committed files hold no secret values: .env has none, .env.example leaves them blank.
    committed = read_env_file(ROOT / ".env")
    assert not [key for key, value in committed.items() if SECRET_NAME.search(key) and value]
    example = read_env_file(ROOT / ".env.example")
    assert set(SECRETS) <= set(example)
    assert not [key for key, value in example.items() if SECRET_NAME.search(key) and value]


def test_the_compose_file_interpolates_nothing_that_env_sets_for_a_laptop() -> None:
    """.env holds a laptop's MOOT_* defaults (127.0.0.1, embedded stores); compose reads it
    for substitution, so the stack must not take any of them into a container."""
    laptop = set(read_env_file(ROOT / ".env"))
    used = set(re.findall(r"\$\{(\w+)", (ROOT / "docker-compose.yml").read_text()))
    assert not used & laptop, used & laptop


# -- the proxy -----------------------------------------------------------------------------------


def caddy_upstreams(text: str) -> list[tuple[str, str, int]]:
    """(route, service, port) for every upstream of the Caddyfile: `reverse_proxy host:port`
    and `dynamic a host port`; route is the enclosing `handle` path, or "/" for the rest."""
    found: list[tuple[str, str, int]] = []
    site = route = ""
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if not raw.startswith((" ", "\t")) and line.endswith("{"):
            site, route = line[:-1].strip(), "/"
        elif line.startswith("handle"):
            route = line.removeprefix("handle").strip(" {") or "/"
        if match := re.match(r"reverse_proxy\s+([\w.-]+):(\d+)", line):
            found.append((f"{site} {route}", match.group(1), int(match.group(2))))
        if match := re.match(r"dynamic a\s+([\w.-]+)\s+(\d+)", line):
            found.append((f"{site} {route}", match.group(1), int(match.group(2))))
    return found


def listening_port(name: str) -> int:
    """The port a compose service listens on, from its own configuration."""
    service = services()[name]
    env = {**image_env(), **environment(service)}
    if name == "api":
        return int(env["MOOT_PORT"])
    if name == "worker":
        return int(env["MOOT_WORKER_PORT"])
    if name == "livekit":
        port: int = yaml.safe_load((DEPLOY / "livekit.yaml").read_text())["port"]
        return port
    raise AssertionError(f"no known port for {name}")


def test_the_proxy_routes_to_the_services_on_the_ports_they_listen_on() -> None:
    upstreams = caddy_upstreams((DEPLOY / "Caddyfile").read_text())
    routes = {(route, host) for route, host, _ in upstreams}
    assert ("{$MOOT_DOMAIN:localhost} /ws/transcribe", "worker") in routes
    assert ("{$MOOT_DOMAIN:localhost} /", "api") in routes
    assert ("{$LIVEKIT_DOMAIN:livekit.localhost} /", "livekit") in routes
    for _, host, port in upstreams:
        assert host in services(), host
        assert port == listening_port(host), (host, port)
        expose = [str(item) for item in services()[host].get("expose", [])]
        assert str(port) in expose, (host, port, expose)
    caddy = services()["caddy"]
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in caddy["volumes"]
    assert {"80:80", "443:443"} <= set(caddy["ports"])
    # The browser-facing URLs moot hands out are the routes Caddy serves.
    api = environment(services()["api"])
    assert urlsplit(interpolate(api["MOOT_WORKER_PUBLIC_URL"], PUBLIC)).path == "/ws/transcribe"
    assert interpolate(api["MOOT_LIVEKIT_URL"], PUBLIC) == f"wss://{PUBLIC['LIVEKIT_DOMAIN']}"


def _caddy(
    tmp_path: Path, config: Path, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("caddy")
    if binary is None:
        pytest.skip("caddy is not installed (apt-get install caddy): only parsed")
    home = tmp_path / "caddy-home"
    return subprocess.run(
        [binary, *args, "--config", str(config), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),
            "XDG_DATA_HOME": str(home),
            "XDG_CONFIG_HOME": str(home),
            **env,
        },
    )


def test_caddy_accepts_the_caddyfile_and_routes_as_intended(tmp_path: Path) -> None:
    config = DEPLOY / "Caddyfile"
    checked = _caddy(tmp_path, config, "validate", **PUBLIC)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    adapted = _caddy(tmp_path, config, "adapt", **PUBLIC)
    assert adapted.returncode == 0, adapted.stderr
    routes = json.loads(adapted.stdout)["apps"]["http"]["servers"]["srv0"]["routes"]
    by_host = {route["match"][0]["host"][0]: route["handle"][0]["routes"] for route in routes}
    site = by_host["meet.example.net"]
    # First of all, responses are compressed (moot's precompressed files pass through).
    assert site[0]["handle"][0]["handler"] == "encode"
    assert set(site[0]["handle"][0]["encodings"]) == {"zstd", "gzip"}
    moot = {
        tuple(r.get("match", [{}])[0].get("path", ["*"])): r["handle"][0]["routes"][0]["handle"][0]
        for r in site[1:]
    }
    assert moot[("/ws/transcribe",)]["upstreams"] == [{"dial": "worker:8001"}]
    assert moot[("/metrics",)]["status_code"] == 404
    assert moot[("*",)]["dynamic_upstreams"] | {"refresh": 0} == {
        "source": "a",
        "name": "api",
        "port": "8000",
        "refresh": 0,
    }
    livekit = by_host["livekit.meet.example.net"][0]["handle"][0]
    assert livekit["upstreams"] == [{"dial": "livekit:7880"}]


# -- LiveKit and coturn --------------------------------------------------------------------------


def test_livekit_posts_webhooks_to_a_real_moot_route_and_keeps_no_keys(tmp_path: Path) -> None:
    from moot.app import create_app
    from tests.conftest import make_settings

    config = yaml.safe_load((DEPLOY / "livekit.yaml").read_text())
    assert "keys" not in config and "api_key" not in config.get("webhook", {})
    (url,) = config["webhook"]["urls"]
    parts = urlsplit(url)
    assert (parts.hostname, parts.port) == ("api", listening_port("api"))
    app = create_app(
        make_settings(web_dir=str(tmp_path)),
        database_url="postgresql://unused",
        redis_url="redis://unused",
        secret_key="x" * 40,
        component="api",
    )
    assert parts.path in {route.path for route in app.routes}

    livekit = services()["livekit"]
    env = environment(livekit)
    assert env["LIVEKIT_KEYS"] == (
        "${MOOT_LIVEKIT_API_KEY:?set MOOT_LIVEKIT_API_KEY in .env.local}: "
        "${MOOT_LIVEKIT_API_SECRET:?set MOOT_LIVEKIT_API_SECRET in .env.local}"
    )
    assert env["LIVEKIT_WEBHOOK_API_KEY"].startswith("${MOOT_LIVEKIT_API_KEY:?")
    assert "./deploy/livekit.yaml:/etc/livekit.yaml:ro" in livekit["volumes"]
    rtc = config["rtc"]
    assert {
        f"{rtc['tcp_port']}:{rtc['tcp_port']}/tcp",
        f"{rtc['udp_port']}:{rtc['udp_port']}/udp",
    } <= set(livekit["ports"])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def deployed_coturn(tmp_path: Path) -> Iterator[int]:
    """coturn started the way docker-compose.yml starts it (its config file, its secret and
    realm arguments), moved to loopback and free ports for the test."""
    turnserver = shutil.which("turnserver") or "/usr/bin/turnserver"
    if not Path(turnserver).exists():
        pytest.skip("coturn is not installed (apt-get install coturn)")
    command = services()["coturn"]["command"]
    env = {**read_env_file(ROOT / ".env"), **PUBLIC, **SECRETS}
    args = [interpolate(item, env) for item in command]
    assert args[:2] == ["-c", "/etc/coturn/turnserver.conf"]
    args = ["-c", str(DEPLOY / "coturn" / "turnserver.conf")] + [
        arg
        for arg in args[2:]
        if not arg.startswith("--external-ip")  # needs the internet
    ]
    port, relay = _free_port(), _free_port() // 2 * 2
    log = tmp_path / "turnserver.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                turnserver,
                *args,
                "--listening-ip=127.0.0.1",
                f"--listening-port={port}",
                "--relay-ip=127.0.0.1",
                f"--min-port={relay}",
                f"--max-port={relay + 20}",
                f"--userdb={tmp_path / 'turndb'}",
                f"--pidfile={tmp_path / 'turnserver.pid'}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    try:
        deadline = time.monotonic() + 15
        while True:
            assert process.poll() is None, log.read_text(errors="replace")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_deployed_coturn_accepts_the_credentials_moot_mints(
    deployed_coturn: int, tmp_path: Path
) -> None:
    api = {
        key: interpolate(value, {**PUBLIC, **SECRETS})
        for key, value in environment(services()["api"]).items()
    }
    servers = ",".join(
        url.replace(PUBLIC["MOOT_DOMAIN"], "127.0.0.1").replace("3478", str(deployed_coturn))
        for url in api["MOOT_TURN_SERVERS"].split(",")
    )

    def probe(secret: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOOT_")}
        env.update(MOOT_TURN_SERVERS=servers, MOOT_TURN_SECRET=secret)
        return subprocess.run(
            [sys.executable, "-m", "moot.cli", "turn-probe", "--json"],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=60,
        )

    accepted = probe(api["MOOT_TURN_SECRET"])
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    report = json.loads(accepted.stdout)
    assert [r["transport"] for r in report["results"]] == ["udp", "tcp"]
    assert all(r["auth_ok"] and r["relayed_address"] for r in report["results"])
    refused = probe("some-other-secret")
    assert refused.returncode == 1
    assert not any(r["auth_ok"] for r in json.loads(refused.stdout)["results"])


def test_coturn_refuses_to_relay_into_private_networks() -> None:
    lines = (DEPLOY / "coturn" / "turnserver.conf").read_text().splitlines()
    settings = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert "use-auth-secret" in settings
    assert not [line for line in settings if line.startswith(("static-auth-secret", "user="))]
    denied = {line.split("=", 1)[1] for line in settings if line.startswith("denied-peer-ip=")}
    for network in (
        "10.0.0.0-10.255.255.255",
        "172.16.0.0-172.31.255.255",
        "192.168.0.0-192.168.255.255",
        "127.0.0.0-127.255.255.255",
    ):
        assert network in denied
    relay = {
        k: int(v)
        for k, v in (
            line.split("=") for line in settings if line.startswith(("min-port", "max-port"))
        )
    }
    # Clear of LiveKit's media range on the same host (Nomad: 50000-60000).
    assert relay["max-port"] < 50000 <= 60000


# -- Nomad -------------------------------------------------------------------------------------


def test_every_nomad_file_parses_and_defines_the_jobs_the_docs_name() -> None:
    names = {job(path)[0] for path in JOBS}
    assert {"moot-api", "moot-worker", "moot-migrate", "livekit", "coturn"} <= names
    readme = (DEPLOY / "README.md").read_text()
    for path in JOBS:
        assert f"deploy/nomad/{path}" in readme, path


def test_the_nomad_api_rolls_out_two_or_more_instances_one_healthy_step_at_a_time() -> None:
    _, body = job("moot-api.nomad.hcl")
    variables = nomad_variables("moot-api.nomad.hcl")
    (update,) = body["update"]
    assert update["health_check"] == "checks" and update["max_parallel"] == 1
    assert update["auto_revert"] is True
    group = groups(body)["api"]
    assert resolve(group["count"], variables) >= 2
    (service,) = group["service"]
    (check,) = service["check"]
    assert (check["type"], check["path"]) == ("http", "/ready")
    task = tasks(group)["api"]
    (config,) = task["config"]
    assert config["args"] == ["serve"] and resolve(config["image"], variables)
    (port,) = group["network"][0]["port"]
    assert port[service["port"]]["to"] == int(task["env"][0]["MOOT_PORT"])
    # Long enough for uvicorn's 10 s drain after the 5 s deregistration delay.
    assert int(task["kill_timeout"].rstrip("s")) >= 15


def test_the_nomad_worker_and_migration_jobs_run_the_right_commands() -> None:
    _, worker = job("moot-worker.nomad.hcl")
    group = groups(worker)["worker"]
    task = tasks(group)["worker"]
    assert task["config"][0]["args"] == ["worker"]
    (port,) = group["network"][0]["port"]
    assert port["http"]["to"] == int(task["env"][0]["MOOT_WORKER_PORT"])
    assert group["service"][0]["check"][0]["path"] == "/ready"
    assert worker["update"][0]["health_check"] == "checks"

    _, migrate = job("moot-migrate.nomad.hcl")
    assert migrate["type"] == "batch"
    task = tasks(groups(migrate)["migrate"])["migrate"]
    assert task["config"][0]["args"] == ["migrate"]


def _templates(body: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for group in groups(body).values():
        for task_name, task in tasks(group).items():
            yield task_name, task, group


def test_nomad_services_all_have_checks() -> None:
    for path in JOBS:
        name, body = job(path)
        if body.get("type") == "batch":
            continue
        for group_name, group in groups(body).items():
            assert group.get("service"), (name, group_name)
            for service in group["service"]:
                assert service.get("check"), (name, service["name"])


def test_nomad_moot_tasks_set_only_real_settings_and_take_secrets_from_nomad_variables() -> None:
    policy = nomad("moot-secrets.policy.hcl")
    readable = set()
    for namespace in policy["namespace"]:
        for body in namespace.values():
            for variables in body["variables"]:
                for path_block in variables["path"]:
                    readable |= set(path_block)
    for path in JOBS:
        name, body = job(path)
        for task_name, task, _ in _templates(body):
            env: dict[str, str] = {}
            for block in task.get("env", []):
                env.update(block)
            # Plain env blocks never carry a secret.
            assert not [key for key in env if SECRET_NAME.search(key)], (name, task_name)
            for template in task.get("template", []):
                data = unescape(template["data"])
                for var_path in re.findall(r'nomadVar "([^"]+)"', data):
                    assert var_path in readable, (name, var_path)
                for key, value in re.findall(r"^\s*(MOOT_\w+)=(.*)$", data, flags=re.M):
                    assert key in SETTINGS, (name, key)
                    if SECRET_NAME.search(key) or "PASSWORD" in value.upper():
                        assert "{{" in value, (name, key, value)
                for line in data.splitlines():
                    if re.search(r"secret|password", line, flags=re.I) and "=" in line:
                        assert "{{" in line or line.strip().startswith("#"), (name, line)
            moot_env = {key for key in env if key.startswith("MOOT_")}
            assert moot_env <= SETTINGS, (name, moot_env - SETTINGS)


def test_nomad_jobs_read_the_deploy_files_that_exist() -> None:
    for path in JOBS:
        text = (NOMAD / path).read_text()
        for referenced in re.findall(r'file\("([^"]+)"\)', text):
            assert (ROOT / referenced).is_file(), (path, referenced)


def _render_proxy_caddyfile(domain: str, livekit_domain: str) -> str:
    """proxy.nomad.hcl's Caddyfile as a Nomad client renders it, with one instance of each
    service at a made-up address."""
    _, body = job("proxy.nomad.hcl")
    (template,) = tasks(groups(body)["caddy"])["caddy"]["template"]
    text = unescape(template["data"])
    text = re.sub(
        r"%\{ if var\.livekit_domain != \"\" \}\n(.*?)%\{ endif \}\n?",
        r"\1" if livekit_domain else "",
        text,
        flags=re.S,
    )
    text = text.replace("${var.domain}", domain).replace("${var.livekit_domain}", livekit_domain)
    return re.sub(
        r'\{\{ range nomadService "([\w-]+)" \}\}.*?\{\{ end \}\}',
        lambda m: f"10.0.0.{len(m.group(1))}:2{len(m.group(1)):04d} ",
        text,
    )


def test_the_nomad_proxy_routes_to_services_the_other_jobs_register(tmp_path: Path) -> None:
    _, body = job("proxy.nomad.hcl")
    (template,) = tasks(groups(body)["caddy"])["caddy"]["template"]
    wanted = set(re.findall(r'nomadService "([\w-]+)"', unescape(template["data"])))
    registered = {
        service["name"]
        for path in JOBS
        for group in groups(job(path)[1]).values()
        for service in group.get("service", [])
    }
    assert wanted == {"moot-api", "moot-worker", "livekit"} and wanted <= registered
    rendered = _render_proxy_caddyfile("meet.example.net", "livekit.meet.example.net")
    routes = {(route, host) for route, host, _ in caddy_upstreams(rendered)}
    assert ("meet.example.net /ws/transcribe", f"10.0.0.{len('moot-worker')}") in routes
    assert ("meet.example.net /", f"10.0.0.{len('moot-api')}") in routes
    config = tmp_path / "Caddyfile"
    config.write_text(rendered)
    checked = _caddy(tmp_path, config, "validate")
    assert checked.returncode == 0, rendered + checked.stdout + checked.stderr
    config.write_text(_render_proxy_caddyfile("meet.example.net", ""))
    assert _caddy(tmp_path, config, "validate").returncode == 0


def test_livekit_and_moot_use_the_same_key_pair_on_nomad() -> None:
    _, livekit = job("livekit.nomad.hcl")
    (template,) = tasks(groups(livekit)["livekit"])["livekit"]["template"]
    data = unescape(template["data"])
    assert "{{ .livekit_api_key }}: {{ .livekit_api_secret }}" in data
    assert "api_key: {{ .livekit_api_key }}" in data
    assert "https://${var.domain}/api/v1/livekit/webhook" in data
    _, api = job("moot-api.nomad.hcl")
    (api_template,) = tasks(groups(api)["api"])["api"]["template"]
    api_data = unescape(api_template["data"])
    assert "MOOT_LIVEKIT_API_KEY={{ .livekit_api_key }}" in api_data
    assert "MOOT_LIVEKIT_API_SECRET={{ .livekit_api_secret }}" in api_data
