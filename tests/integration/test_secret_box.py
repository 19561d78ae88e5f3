"""The secret box: key file created private on first start, reused after, wrong key refused."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from alertmail.adapters.secret_box import FernetSecretBox, SecretKeyError
from alertmail.errors import AlertmailError


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_key_file_is_created_owner_only_in_a_private_directory(tmp_path: Path) -> None:
    key_file = tmp_path / "data" / "secret.key"
    box = FernetSecretBox.from_key_file(key_file)

    assert mode(key_file) == 0o600
    assert mode(key_file.parent) == 0o700
    assert box.decrypt(box.encrypt("s3cret")) == "s3cret"
    assert [p.name for p in key_file.parent.iterdir()] == ["secret.key"]  # no temporary left


def test_key_file_is_private_even_with_a_permissive_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        key_file = tmp_path / "secret.key"
        FernetSecretBox.from_key_file(key_file)
    finally:
        os.umask(previous)
    assert mode(key_file) == 0o600


def test_key_file_is_reused_on_the_next_start(tmp_path: Path) -> None:
    key_file = tmp_path / "secret.key"
    token = FernetSecretBox.from_key_file(key_file).encrypt("s3cret")
    key = key_file.read_bytes()

    again = FernetSecretBox.from_key_file(key_file)
    assert key_file.read_bytes() == key
    assert again.decrypt(token) == "s3cret"


def test_ciphertext_differs_from_plaintext_and_between_calls(secret_box: FernetSecretBox) -> None:
    first, second = secret_box.encrypt("s3cret"), secret_box.encrypt("s3cret")
    assert "s3cret" not in first and first != second


def test_a_wrong_key_raises_an_alertmail_error(tmp_path: Path) -> None:
    token = FernetSecretBox.from_key_file(tmp_path / "one.key").encrypt("s3cret")
    other = FernetSecretBox.from_key_file(tmp_path / "two.key")
    with pytest.raises(SecretKeyError, match="another secret key file") as caught:
        other.decrypt(token)
    assert isinstance(caught.value, AlertmailError)


def test_a_world_readable_key_file_is_refused(tmp_path: Path) -> None:
    key_file = tmp_path / "secret.key"
    key_file.write_bytes(Fernet.generate_key())
    key_file.chmod(0o644)
    with pytest.raises(SecretKeyError, match="chmod 600"):
        FernetSecretBox.from_key_file(key_file)


def test_a_group_readable_key_file_is_refused_unless_root_owns_it(tmp_path: Path) -> None:
    key_file = tmp_path / "secret.key"
    key_file.write_bytes(Fernet.generate_key())
    key_file.chmod(0o640)
    if os.geteuid() == 0:
        FernetSecretBox.from_key_file(key_file)  # root:alertmail 0640 is a legitimate setup
        os.chown(key_file, 65534, -1)  # as a non-root owner, group read is too wide
    with pytest.raises(SecretKeyError, match="chmod 600"):
        FernetSecretBox.from_key_file(key_file)


@pytest.mark.parametrize("content", [b"", b"not a fernet key\n"])
def test_an_unusable_key_file_is_refused(tmp_path: Path, content: bytes) -> None:
    key_file = tmp_path / "secret.key"
    key_file.write_bytes(content)
    key_file.chmod(0o600)
    with pytest.raises(SecretKeyError):
        FernetSecretBox.from_key_file(key_file)


CANDIDATE_KEYS = [
    Fernet.generate_key(),
    base64.urlsafe_b64encode(bytes(range(32))),
    base64.urlsafe_b64encode(bytes(31)),  # too short
    base64.urlsafe_b64encode(bytes(33)),  # too long
    base64.urlsafe_b64encode(bytes(32)).rstrip(b"="),  # padding missing
    base64.b64encode(bytes([0xFB] * 32)),  # '+' and '/': not the url-safe alphabet
    b"not a fernet key",
]


@pytest.mark.parametrize("key", CANDIDATE_KEYS)
def test_the_key_is_checked_at_start_as_fernet_checks_it(key: bytes) -> None:
    # The box checks the key without loading cryptography; it must refuse what Fernet refuses.
    try:
        Fernet(key)
    except ValueError:
        with pytest.raises(SecretKeyError, match="not a Fernet key"):
            FernetSecretBox(key)
    else:
        box = FernetSecretBox(key)
        assert Fernet(key).decrypt(box.encrypt("s3cret")) == b"s3cret"


def test_a_new_key_file_holds_a_key_fernet_accepts(tmp_path: Path) -> None:
    key_file = tmp_path / "secret.key"
    FernetSecretBox.from_key_file(key_file)
    Fernet(key_file.read_bytes().strip())


def test_the_repr_hides_the_key(secret_box: FernetSecretBox, secret_key_file: Path) -> None:
    assert secret_key_file.read_text().strip() not in repr(secret_box)
