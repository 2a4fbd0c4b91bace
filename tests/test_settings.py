"""Configuration: defaults, `.env` < `.env.local` < environment, errors naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from moot.settings import ConfigError, Settings, load_settings, read_env_file

LONG_SECRET = "a-perfectly-fine-secret-key-of-40-chars!"


def clean_environment(**moot: str) -> dict[str, str]:
    """The parent environment without any MOOT_* variable, plus the given ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOOT_")}
    env.update(moot)
    return env


def run_cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "moot.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# -- defaults and precedence ---------------------------------------------------------------


def test_without_any_configuration_the_defaults_apply(tmp_path: Path) -> None:
    settings = load_settings(environ={}, env_dir=tmp_path)
    assert settings == Settings()
    assert settings.host == "127.0.0.1"
    assert settings.port == 8000
    assert settings.database_url == settings.redis_url == ""
    assert settings.embedded is True
    assert settings.room_default_max_participants == 10
    assert settings.room_max_participants_limit == 100
    assert settings.room_idle_timeout_seconds == 15 * 60
    assert settings.cleanup_enabled is True
    assert settings.rate_limit_room_create == "20/minute"


def test_variables_without_the_moot_prefix_are_ignored(tmp_path: Path) -> None:
    settings = load_settings(environ={"PORT": "1234", "HOST": "0.0.0.0"}, env_dir=tmp_path)
    assert settings.port == 8000
    assert settings.host == "127.0.0.1"


def test_values_are_converted_to_their_types(tmp_path: Path) -> None:
    settings = load_settings(
        environ={
            "MOOT_PORT": "9001",
            "MOOT_CLEANUP_ENABLED": "false",
            "MOOT_RATE_LIMIT_ENABLED": "0",
            "MOOT_LOG_LEVEL": "debug",
            "MOOT_ROOM_IDLE_TIMEOUT_SECONDS": "30",
        },
        env_dir=tmp_path,
    )
    assert settings.port == 9001
    assert settings.cleanup_enabled is False
    assert settings.rate_limit_enabled is False
    assert settings.log_level == "debug"
    assert settings.room_idle_timeout_seconds == 30


def test_dot_env_local_overrides_dot_env_and_the_environment_overrides_both(
    tmp_path: Path,
) -> None:
    (tmp_path / ".env").write_text(
        "MOOT_HOST=10.0.0.1\nMOOT_PORT=8001\nMOOT_CORS_ORIGINS=https://env.example\n"
    )
    (tmp_path / ".env.local").write_text(
        "MOOT_PORT=8002\nMOOT_CORS_ORIGINS=https://local.example\n"
    )

    settings = load_settings(
        environ={"MOOT_CORS_ORIGINS": "https://environment.example"}, env_dir=tmp_path
    )
    assert settings.host == "10.0.0.1"  # only in .env
    assert settings.port == 8002  # .env.local beats .env
    assert settings.cors_origins == "https://environment.example"  # environment beats both


def test_either_env_file_may_be_missing(tmp_path: Path) -> None:
    (tmp_path / ".env.local").write_text("MOOT_PORT=8100\n")
    assert load_settings(environ={}, env_dir=tmp_path).port == 8100
    (tmp_path / ".env.local").unlink()
    (tmp_path / ".env").write_text("MOOT_PORT=8200\n")
    assert load_settings(environ={}, env_dir=tmp_path).port == 8200


def test_explicit_overrides_beat_everything_and_none_means_not_given(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("MOOT_PORT=8001\nMOOT_HOST=10.0.0.1\n")
    settings = load_settings(environ={"MOOT_PORT": "8002"}, env_dir=tmp_path, port=8003, host=None)
    assert settings.port == 8003
    assert settings.host == "10.0.0.1"


# -- env file syntax -----------------------------------------------------------------------


def test_env_files_understand_comments_quotes_and_export(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text(
        "\n".join(
            [
                "# a full-line comment",
                "",
                "   ",
                "MOOT_HOST=0.0.0.0",
                "export MOOT_PORT=9000",
                'MOOT_PUBLIC_URL="https://meet.example.org"',
                "MOOT_CORS_ORIGINS='https://a.example, https://b.example'",
                "MOOT_DATA_DIR=/var/lib/moot   # trailing comment",
                "MOOT_FORWARDED_ALLOW_IPS=10.0.0.1#not-a-comment",
                'MOOT_LOG_FORMAT="json # kept inside quotes"',
                "  MOOT_LOG_LEVEL = debug  ",
                "MOOT_SECRET_KEY=abc=def==",
            ]
        )
        + "\n"
    )
    values = read_env_file(path)
    assert values == {
        "MOOT_HOST": "0.0.0.0",
        "MOOT_PORT": "9000",
        "MOOT_PUBLIC_URL": "https://meet.example.org",
        "MOOT_CORS_ORIGINS": "https://a.example, https://b.example",
        "MOOT_DATA_DIR": "/var/lib/moot",
        "MOOT_FORWARDED_ALLOW_IPS": "10.0.0.1#not-a-comment",
        "MOOT_LOG_FORMAT": "json # kept inside quotes",
        "MOOT_LOG_LEVEL": "debug",
        "MOOT_SECRET_KEY": "abc=def==",
    }


def test_a_quoted_value_may_be_followed_by_a_comment(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text(
        'MOOT_PUBLIC_URL="https://meet.example.org"  # the public address\n'
        "MOOT_HOST='0.0.0.0' # all interfaces\n"
    )
    assert read_env_file(path) == {
        "MOOT_PUBLIC_URL": "https://meet.example.org",
        "MOOT_HOST": "0.0.0.0",
    }


def test_an_empty_value_is_an_empty_string(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text('MOOT_WEB_DIR=\nMOOT_CORS_ORIGINS=""\n')
    settings = load_settings(environ={}, env_dir=tmp_path)
    assert settings.web_dir == ""
    assert settings.cors_origins == ""


@pytest.mark.parametrize("line", ["JUST_A_WORD", "=value", "export", "   = 5"])
def test_a_malformed_env_line_is_refused_with_its_file_and_line_number(
    tmp_path: Path, line: str
) -> None:
    (tmp_path / ".env.local").write_text(f"# comment\nMOOT_PORT=8000\n{line}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={}, env_dir=tmp_path)
    message = str(caught.value)
    assert ".env.local:3" in message
    assert "KEY=VALUE" in message


# -- bad values ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"MOOT_PORT": "abc"}, "MOOT_PORT"),
        ({"MOOT_PORT": "70000"}, "MOOT_PORT"),
        ({"MOOT_PORT": "-1"}, "MOOT_PORT"),
        ({"MOOT_PORT": ""}, "MOOT_PORT"),
        ({"MOOT_DB_POOL_MIN": "0"}, "MOOT_DB_POOL_MIN"),
        ({"MOOT_ROOM_IDLE_TIMEOUT_SECONDS": "0"}, "MOOT_ROOM_IDLE_TIMEOUT_SECONDS"),
        ({"MOOT_ROOM_DEFAULT_MAX_PARTICIPANTS": "1"}, "MOOT_ROOM_DEFAULT_MAX_PARTICIPANTS"),
        ({"MOOT_CLEANUP_ENABLED": "maybe"}, "MOOT_CLEANUP_ENABLED"),
        ({"MOOT_LOG_LEVEL": "verbose"}, "MOOT_LOG_LEVEL"),
        ({"MOOT_LOG_FORMAT": "xml"}, "MOOT_LOG_FORMAT"),
        ({"MOOT_RATE_LIMIT_ROOM_CREATE": "lots"}, "MOOT_RATE_LIMIT_ROOM_CREATE"),
        ({"MOOT_RATE_LIMIT_ROOM_JOIN": "5/fortnight"}, "MOOT_RATE_LIMIT_ROOM_JOIN"),
        (
            {"MOOT_RATE_LIMIT_PARTICIPANT_REQUESTS": ""},
            "MOOT_RATE_LIMIT_PARTICIPANT_REQUESTS",
        ),
        ({"MOOT_SECRET_KEY": "too-short"}, "MOOT_SECRET_KEY"),
        (
            {
                "MOOT_ROOM_DEFAULT_MAX_PARTICIPANTS": "50",
                "MOOT_ROOM_MAX_PARTICIPANTS_LIMIT": "20",
            },
            "MOOT_ROOM_DEFAULT_MAX_PARTICIPANTS",
        ),
        ({"MOOT_DB_POOL_MIN": "10", "MOOT_DB_POOL_MAX": "5"}, "MOOT_DB_POOL_MIN"),
    ],
)
def test_a_bad_value_is_a_config_error_naming_the_variable(
    tmp_path: Path, environ: dict[str, str], variable: str
) -> None:
    with pytest.raises(ConfigError, match=variable):
        load_settings(environ=environ, env_dir=tmp_path)


def test_a_bad_value_in_an_env_file_is_reported_like_one_in_the_environment(
    tmp_path: Path,
) -> None:
    (tmp_path / ".env").write_text("MOOT_PORT=eighty\n")
    with pytest.raises(ConfigError, match="MOOT_PORT='eighty'"):
        load_settings(environ={}, env_dir=tmp_path)


def test_the_environment_can_fix_a_bad_value_from_an_env_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("MOOT_PORT=eighty\n")
    assert load_settings(environ={"MOOT_PORT": "8080"}, env_dir=tmp_path).port == 8080


def test_the_default_room_size_must_fit_under_the_configured_limit(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"MOOT_ROOM_MAX_PARTICIPANTS_LIMIT": "5"}, env_dir=tmp_path)
    assert "MOOT_ROOM_DEFAULT_MAX_PARTICIPANTS" in str(caught.value)
    assert "MOOT_ROOM_MAX_PARTICIPANTS_LIMIT" in str(caught.value)
    settings = load_settings(
        environ={
            "MOOT_ROOM_MAX_PARTICIPANTS_LIMIT": "5",
            "MOOT_ROOM_DEFAULT_MAX_PARTICIPANTS": "5",
        },
        env_dir=tmp_path,
    )
    assert settings.room_default_max_participants == settings.room_max_participants_limit == 5


def test_a_short_secret_key_is_refused_without_echoing_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"MOOT_SECRET_KEY": "hunter2-hunter2"}, env_dir=tmp_path)
    assert "MOOT_SECRET_KEY" in str(caught.value)
    assert "hunter2" not in str(caught.value)
    key = "k" * 32
    assert load_settings(environ={"MOOT_SECRET_KEY": key}, env_dir=tmp_path).secret_key == key


def test_rate_limits_accept_the_limits_notation(tmp_path: Path) -> None:
    settings = load_settings(
        environ={
            "MOOT_RATE_LIMIT_ROOM_CREATE": "5/second;100/hour",
            "MOOT_RATE_LIMIT_ROOM_JOIN": "10 per minute",
        },
        env_dir=tmp_path,
    )
    assert settings.rate_limit_room_create == "5/second;100/hour"
    assert settings.rate_limit_room_join == "10 per minute"


# -- the CLI -------------------------------------------------------------------------------


def test_the_cli_exits_2_and_names_the_variable_for_a_bad_value(tmp_path: Path) -> None:
    result = run_cli(
        "migrate", cwd=tmp_path, env=clean_environment(MOOT_PORT="abc", MOOT_DATA_DIR=str(tmp_path))
    )
    assert result.returncode == 2, result.stderr
    assert "MOOT_PORT" in result.stderr
    assert "configuration error" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_cli_reads_env_files_from_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / ".env.local").write_text("MOOT_RATE_LIMIT_ROOM_JOIN=plenty\n")
    result = run_cli(
        "migrate", cwd=tmp_path, env=clean_environment(MOOT_DATA_DIR=str(tmp_path / "data"))
    )
    assert result.returncode == 2, result.stderr
    assert "MOOT_RATE_LIMIT_ROOM_JOIN" in result.stderr
    assert not (tmp_path / "data").exists()  # nothing was started


def test_the_cli_env_dir_option_points_at_another_directory(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / ".env").write_text("MOOT_LOG_LEVEL=chatty\n")
    result = run_cli("--env-dir", str(config), "cleanup", cwd=tmp_path, env=clean_environment())
    assert result.returncode == 2, result.stderr
    assert "MOOT_LOG_LEVEL" in result.stderr


def test_the_cli_refuses_a_bad_port_option(tmp_path: Path) -> None:
    result = run_cli(
        "serve",
        "--port",
        "70000",
        cwd=tmp_path,
        env=clean_environment(MOOT_DATA_DIR=str(tmp_path / "data")),
    )
    assert result.returncode == 2, result.stderr
    assert "MOOT_PORT" in result.stderr


def test_shared_stores_without_a_secret_key_exit_2_naming_moot_secret_key(
    tmp_path: Path,
) -> None:
    result = run_cli(
        "migrate",
        cwd=tmp_path,
        env=clean_environment(
            MOOT_DATABASE_URL="postgresql://nobody@127.0.0.1:1/nothing",
            MOOT_REDIS_URL="redis://127.0.0.1:1/0",
            MOOT_DATA_DIR=str(tmp_path / "data"),
        ),
    )
    assert result.returncode == 2, result.stderr
    assert "MOOT_SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists()
