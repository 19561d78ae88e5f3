"""The secret box: Fernet encryption of secrets at rest, keyed by a file created on first start.

The key file is the one thing that turns the database's ciphertext back into passwords and client
secrets, so it is created owner-only and never exists with wider permissions, not even briefly.
Every node that shares a database must use a copy of the same key file.

Permission policy (the one PostgreSQL applies to its TLS key): the file is refused, with a clear
error, when anybody but its owner may write it or the world may read it. Group read is refused
too, except when the file belongs to root, so that an operator can provision it `root:alertmail`
mode 0640. A warning would scroll past in a service log while the key stays exposed; refusing makes
the operator fix it before any secret is encrypted with a key others can read.

The key is read and checked at start; `cryptography` is loaded when a secret is first encrypted or
decrypted: a relay without a password never needs it, and its native library alone is some 6 MiB
of a server's memory.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import secrets
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from alertmail.errors import AlertmailError

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

__all__ = ["FernetSecretBox", "SecretKeyError"]


class SecretKeyError(AlertmailError):
    """The secret key file is unusable, or a stored secret was encrypted with another key."""

    category = "secret_key"


class FernetSecretBox:
    """Implements the `SecretBox` port with Fernet (AES-128-CBC + HMAC-SHA256, timestamped)."""

    def __init__(self, key: bytes) -> None:
        if not _is_fernet_key(key):
            raise SecretKeyError("the secret key is not a Fernet key (32 url-safe base64-encoded bytes)")
        self._key = key
        self._loaded: Fernet | None = None

    def __repr__(self) -> str:
        return "FernetSecretBox(key='**********')"

    @classmethod
    def from_key_file(cls, path: Path) -> FernetSecretBox:
        """Read the key from `path`, creating the file (mode 0600) when it does not exist yet."""
        try:
            if not path.exists():
                _create_key_file(path)
            _check_permissions(path)
            key = path.read_bytes().strip()
        except OSError as exc:
            raise SecretKeyError(f"cannot use the secret key file {path}: {exc.strerror}") from exc
        if not key:
            raise SecretKeyError(f"the secret key file {path} is empty")
        return cls(key)

    @property
    def _fernet(self) -> Fernet:
        if self._loaded is None:
            from cryptography.fernet import Fernet

            self._loaded = Fernet(self._key)
        return self._loaded

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(token).decode("utf-8")
        except InvalidToken as exc:
            raise SecretKeyError(
                "a stored secret cannot be decrypted: it was encrypted with another secret key file"
                " (restore the original key file, or enter the secret again)"
            ) from exc


def _new_key() -> bytes:
    """A new Fernet key: 32 random bytes, url-safe base64 (what `Fernet.generate_key()` returns)."""
    return base64.urlsafe_b64encode(os.urandom(32))


def _is_fernet_key(key: bytes) -> bool:
    """What `Fernet(key)` accepts, checked without loading `cryptography`."""
    try:
        return len(base64.urlsafe_b64decode(key)) == 32
    except (binascii.Error, ValueError):
        return False


def _create_key_file(path: Path) -> None:
    """Write a new key to a private temporary file, then link it into place.

    Linking is atomic and fails when the name exists, so two processes starting together agree on
    one key, and a crash mid-write leaves a stray temporary file rather than an empty key file.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(_new_key() + b"\n")
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):  # another process won the race: use its key
            os.link(temporary, path)
        _sync_directory(path.parent)
    finally:
        temporary.unlink(missing_ok=True)


def _sync_directory(directory: Path) -> None:
    # Losing the key after a power cut would make every stored secret unreadable.
    if os.name != "posix":
        return
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _check_permissions(path: Path) -> None:
    if os.name != "posix":  # mode bits mean nothing there; the ACLs of the data directory apply
        return
    status = path.stat()
    mode = stat.S_IMODE(status.st_mode)
    allowed = 0o640 if status.st_uid == 0 else 0o600
    if mode & ~allowed & 0o077:
        raise SecretKeyError(
            f"the secret key file {path} has mode {mode:04o}: others may read or change it."
            f" Run `chmod 600 {path}` (or 640 with owner root) and start again"
        )
