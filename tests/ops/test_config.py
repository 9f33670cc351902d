"""``contact-sdk config``: the commands end to end through the CLI, against the local AWS emulator."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import pytest

from contact_sdk.ops.cli import main
from tests.conftest import aws_client

pytestmark = pytest.mark.integration

NAME = "/portfolio/test/resend/api-key"
API_KEY = "re_live_0123456789abcdefWXYZ"
DOCUMENT = {
    "apiKey": API_KEY,
    "domain": "example.com",
    "fromEmail": "no-reply@example.com",
    "toEmail": "owner@example.org",
    "version": 1,
    "rotatedAt": "2024-12-23T10:00:00Z",
}


@pytest.fixture
def key_id(aws: str) -> str:
    """A KMS key in the emulator (the CLI finds the emulator through AWS_ENDPOINT_URL)."""
    return str(aws_client(aws, "kms").create_key()["KeyMetadata"]["KeyId"])


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "resend.json"
    path.write_text(json.dumps(DOCUMENT), encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def stored_value(aws: str, name: str) -> Any:
    return aws_client(aws, "ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]


def test_put_then_show_never_prints_the_key(
    aws: str, key_id: str, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """put writes the SecureString and show reads it back; both print the document with apiKey masked."""
    status, out, _ = run(
        capsys, "config", "put", "--parameter", NAME, "--kms-key-id", key_id, "--file", str(config_file)
    )
    assert status == 0
    assert "version 1" in out
    assert API_KEY not in out
    assert "re_...WXYZ" in out
    assert json.loads(stored_value(aws, NAME)["Value"]) == DOCUMENT

    status, out, _ = run(capsys, "config", "show", "--parameter", NAME)
    assert status == 0
    assert "SecureString, version 1" in out
    assert API_KEY not in out
    assert json.loads(out.split("\n", 1)[1])["fromEmail"] == "no-reply@example.com"


def test_put_reads_standard_input_and_refuses_invalid_json(
    aws: str, key_id: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An invalid document exits 1 with the field named and nothing written."""
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps({**DOCUMENT, "fromEmail": "x@elsewhere.com"})))
    status, _, err = run(capsys, "config", "put", "--parameter", NAME, "--kms-key-id", key_id)
    assert status == 1
    assert "fromEmail" in err
    assert API_KEY not in err
    assert aws_client(aws, "ssm").describe_parameters()["Parameters"] == []


def test_rotate_from_standard_input(
    aws: str, key_id: str, config_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """rotate reads the new key from stdin, keeps the KMS key, bumps version and sets rotatedAt."""
    run(capsys, "config", "put", "--parameter", NAME, "--kms-key-id", key_id, "--file", str(config_file))
    monkeypatch.setattr("sys.stdin", io.StringIO("re_next_key_0000000001\n"))
    status, out, _ = run(capsys, "config", "rotate", "--parameter", NAME, "--api-key-stdin")
    assert status == 0
    assert "config version 2" in out
    assert "re_next_key_0000000001" not in out
    stored = json.loads(stored_value(aws, NAME)["Value"])
    assert stored["apiKey"] == "re_next_key_0000000001"
    assert stored["version"] == 2
    assert stored["rotatedAt"] != DOCUMENT["rotatedAt"]


def test_rotate_from_an_environment_variable(
    aws: str, key_id: str, config_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--api-key-env names the variable holding the new key (never the key itself on the command line)."""
    run(capsys, "config", "put", "--parameter", NAME, "--kms-key-id", key_id, "--file", str(config_file))
    monkeypatch.setenv("NEW_RESEND_KEY", "re_from_env_000000000002")
    status, _, _ = run(capsys, "config", "rotate", "--parameter", NAME, "--api-key-env", "NEW_RESEND_KEY")
    assert status == 0
    assert json.loads(stored_value(aws, NAME)["Value"])["apiKey"] == "re_from_env_000000000002"


def stored_key_id(aws: str, name: str) -> str:
    """The KMS key the SecureString is encrypted with, as Parameter Store reports it."""
    [parameter] = aws_client(aws, "ssm").describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])[
        "Parameters"
    ]
    return str(parameter["KeyId"])


def test_put_over_an_existing_parameter_needs_overwrite(
    aws: str, key_id: str, config_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second ``put`` is refused (exit 1, the way out named) and the stored document stays; with ``--overwrite``
    the new document is stored."""
    assert run(capsys, "config", "put", "--parameter", NAME, "--kms-key-id", key_id, "--file", str(config_file))[0] == 0
    changed = {**DOCUMENT, "toEmail": "office@example.org"}
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(changed)))
    status, _, err = run(capsys, "config", "put", "--parameter", NAME, "--kms-key-id", key_id)
    assert status == 1
    assert f"parameter {NAME} already exists: pass --overwrite (or use rotate)" in err
    assert json.loads(stored_value(aws, NAME)["Value"]) == DOCUMENT
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(changed)))
    assert run(capsys, "config", "put", "--parameter", NAME, "--kms-key-id", key_id, "--overwrite")[0] == 0
    assert json.loads(stored_value(aws, NAME)["Value"]) == changed


def test_rotate_keeps_the_kms_key_unless_told_another(
    aws: str, key_id: str, config_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``rotate`` re-encrypts with the key the parameter had; ``--kms-key-id`` moves it to another key (a key
    being retired), and the new API key reads back through it."""
    run(capsys, "config", "put", "--parameter", NAME, "--kms-key-id", key_id, "--file", str(config_file))
    monkeypatch.setattr("sys.stdin", io.StringIO("re_next_key_0000000001\n"))
    assert run(capsys, "config", "rotate", "--parameter", NAME, "--api-key-stdin")[0] == 0
    assert stored_key_id(aws, NAME) == key_id
    other = str(aws_client(aws, "kms").create_key()["KeyMetadata"]["KeyId"])
    monkeypatch.setattr("sys.stdin", io.StringIO("re_next_key_0000000002\n"))
    assert run(capsys, "config", "rotate", "--parameter", NAME, "--api-key-stdin", "--kms-key-id", other)[0] == 0
    assert stored_key_id(aws, NAME) == other
    assert json.loads(stored_value(aws, NAME)["Value"])["apiKey"] == "re_next_key_0000000002"


def test_put_csrf_secret_generates_and_masks(aws: str, key_id: str, capsys: pytest.CaptureFixture[str]) -> None:
    """put-csrf-secret writes 64 random characters and prints only a mask."""
    name = "/portfolio/test/contact/csrf-secret"
    status, out, _ = run(capsys, "config", "put-csrf-secret", "--parameter", name, "--kms-key-id", key_id)
    assert status == 0
    parameter = stored_value(aws, name)
    assert parameter["Type"] == "SecureString"
    assert len(parameter["Value"]) == 64
    assert parameter["Value"] not in out
    assert parameter["Value"][-4:] in out


def test_put_csrf_secret_keep_previous_rotates_gracefully(
    aws: str, key_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--keep-previous writes {"current": new, "previous": old}; twice in a row keeps only the last old one."""
    name = "/portfolio/test/contact/csrf-secret"
    run(capsys, "config", "put-csrf-secret", "--parameter", name, "--kms-key-id", key_id)
    first = stored_value(aws, name)["Value"]
    status, out, _ = run(
        capsys, "config", "put-csrf-secret", "--parameter", name, "--kms-key-id", key_id, "--keep-previous"
    )
    assert status == 0
    assert "keep verifying" in out
    rotated = json.loads(stored_value(aws, name)["Value"])
    assert rotated["previous"] == first
    assert len(rotated["current"]) == 64
    assert rotated["current"] not in out
    run(capsys, "config", "put-csrf-secret", "--parameter", name, "--kms-key-id", key_id, "--keep-previous")
    again = json.loads(stored_value(aws, name)["Value"])
    assert again["previous"] == rotated["current"]


def test_put_webhook_secret_from_standard_input(
    aws: str, key_id: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """put-webhook-secret validates the whsec_ secret from stdin and stores it encrypted."""
    name = "/portfolio/test/resend/webhook-secret"
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    monkeypatch.setattr("sys.stdin", io.StringIO(secret + "\n"))
    status, out, _ = run(capsys, "config", "put-webhook-secret", "--parameter", name, "--kms-key-id", key_id)
    assert status == 0
    assert secret not in out
    assert stored_value(aws, name)["Value"] == secret


def test_put_csrf_secret_takes_the_length_asked_for(aws: str, key_id: str, capsys: pytest.CaptureFixture[str]) -> None:
    """``--bytes 40``: 40 random bytes, written URL-safe base64 (54 characters; the default 48 bytes give 64)."""
    name = "/portfolio/test/contact/csrf-secret"
    assert (
        run(capsys, "config", "put-csrf-secret", "--parameter", name, "--kms-key-id", key_id, "--bytes", "40")[0] == 0
    )
    value = stored_value(aws, name)["Value"]
    assert len(value) == 54
    assert len(base64.urlsafe_b64decode(value + "==")) == 40


def test_put_webhook_secret_from_a_file(
    aws: str, key_id: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--file`` is read instead of standard input (which has nothing here); the secret is stored as it was."""
    name = "/portfolio/test/resend/webhook-secret"
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    path = tmp_path / "webhook-secret.txt"
    path.write_text(secret + "\n", encoding="utf-8")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert (
        run(capsys, "config", "put-webhook-secret", "--parameter", name, "--kms-key-id", key_id, "--file", str(path))[0]
        == 0
    )
    assert stored_value(aws, name)["Value"] == secret


def test_show_reports_a_missing_parameter(aws: str, capsys: pytest.CaptureFixture[str]) -> None:
    """show on a parameter that does not exist exits 1 with one line on stderr."""
    status, _, err = run(capsys, "config", "show", "--parameter", "/nope")
    assert status == 1
    assert err.strip() == "error: parameter /nope does not exist"


def test_parameter_names_default_to_the_service_variables(
    aws: str, key_id: str, config_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --parameter, the command uses CONTACT_CONFIG_PARAMETER like the function does."""
    monkeypatch.setenv("CONTACT_CONFIG_PARAMETER", "/portfolio/env/resend/api-key")
    status, _, _ = run(capsys, "config", "put", "--kms-key-id", key_id, "--file", str(config_file))
    assert status == 0
    assert json.loads(stored_value(aws, "/portfolio/env/resend/api-key")["Value"]) == DOCUMENT


def leaked(secret: str, text: str, window: int = 12) -> list[str]:
    """Every ``window``-character piece of ``secret`` that appears in ``text`` (a mask shows at most four)."""
    return sorted({secret[i : i + window] for i in range(len(secret) - window + 1) if secret[i : i + window] in text})


def test_no_command_prints_a_secret_it_put(
    aws: str, key_id: str, config_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every config command that prints configuration (put, rotate, both secrets, show of each) shows no secret.

    The issue's case included: after put-csrf-secret --keep-previous, show printed current and previous in full.
    """
    csrf, webhook = "/portfolio/test/contact/csrf-secret", "/portfolio/test/resend/webhook-secret"
    webhook_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    rotated_key = "re_rotated_key_0987654321zyxw"
    outputs: list[str] = []

    def record(*argv: str) -> int:
        status, out, err = run(capsys, *argv)
        outputs.append(out + err)
        return status

    assert record("config", "put", "--parameter", NAME, "--kms-key-id", key_id, "--file", str(config_file)) == 0
    assert record("config", "show", "--parameter", NAME) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(rotated_key + "\n"))
    assert record("config", "rotate", "--parameter", NAME, "--api-key-stdin") == 0
    assert record("config", "show", "--parameter", NAME) == 0
    assert record("config", "put-csrf-secret", "--parameter", csrf, "--kms-key-id", key_id) == 0
    assert record("config", "show", "--parameter", csrf) == 0
    first = stored_value(aws, csrf)["Value"]
    assert record("config", "put-csrf-secret", "--parameter", csrf, "--kms-key-id", key_id, "--keep-previous") == 0
    assert record("config", "show", "--parameter", csrf) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(webhook_secret + "\n"))
    assert record("config", "put-webhook-secret", "--parameter", webhook, "--kms-key-id", key_id) == 0
    assert record("config", "show", "--parameter", webhook) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps({**DOCUMENT, "apiKey": rotated_key, "version": 0})))
    assert record("config", "put", "--parameter", NAME, "--kms-key-id", key_id, "--overwrite") == 1  # refused

    rotation = json.loads(stored_value(aws, csrf)["Value"])
    assert rotation["previous"] == first
    secrets = {
        "the first API key": API_KEY,
        "the rotated API key": rotated_key,
        "the first CSRF secret (now previous)": first,
        "the current CSRF secret": rotation["current"],
        "the webhook secret": webhook_secret,
    }
    text = "\n".join(outputs)
    for what, secret in secrets.items():
        assert not leaked(secret, text), f"{what} was printed"
    assert text.count("...") >= 8, "every secret is still shown as a mask (its last four characters)"
