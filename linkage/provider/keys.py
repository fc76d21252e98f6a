"""The shared secret: made by ``linkage keygen``, read from a file or an environment variable.

The key never appears in output, in process arguments or in any file but its own. Only its
key check value (a keyed hash of a fixed label) travels, so the linkage unit can confirm that
all providers used the same key without learning it.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from pathlib import Path

from ..defaults import KEY_BYTES, MIN_KEY_BYTES
from ..errors import KeyFileError

__all__ = ["check_key_length", "generate_key", "key_check_value", "key_from_env", "read_key", "write_key"]

_KCV_LABEL = b"linkage key check value v1"


def generate_key() -> bytes:
    """32 random bytes from the operating system's CSPRNG."""
    return secrets.token_bytes(KEY_BYTES)


def write_key(path: str | Path, key: bytes | None = None) -> Path:
    """Write a new key to ``path`` with mode 0600; refuses to overwrite an existing file."""
    path = Path(path)
    key = generate_key() if key is None else key
    check_key_length(key, str(path))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"{path}: already exists; keys are never overwritten, choose another path") from None
    except OSError as e:
        raise KeyFileError(f"{path}: cannot create the key file ({e.strerror})") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    os.chmod(path, 0o600)
    return path


def check_key_length(key: bytes, where: str) -> bytes:
    if len(key) < MIN_KEY_BYTES:
        raise KeyFileError(
            f"{where}: the key is shorter than {MIN_KEY_BYTES} bytes; make one with `linkage keygen`"
        )
    return key


def read_key(path: str | Path) -> bytes:
    """Read a key file: it must exist, be readable by its owner only and hold >= 16 bytes."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise KeyFileError(f"{path}: key file not found") from None
    if not stat.S_ISREG(st.st_mode):
        raise KeyFileError(f"{path}: the key file is not a regular file")
    if os.name == "posix" and st.st_mode & 0o077:
        raise KeyFileError(f"{path}: the key file is readable by other users; run `chmod 600` on it")
    try:
        key = path.read_bytes()
    except OSError as e:
        raise KeyFileError(f"{path}: cannot read the key file ({e.strerror})") from None
    return check_key_length(key, str(path))


def key_from_env(name: str) -> bytes:
    """Read a key given as hexadecimal in the environment variable ``name``."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        raise KeyFileError(f"environment variable {name} is not set")
    try:
        key = bytes.fromhex(raw.strip())
    except ValueError:
        raise KeyFileError(f"environment variable {name} must hold the key as hexadecimal") from None
    return check_key_length(key, f"environment variable {name}")


def mac_key(key: bytes) -> bytes:
    """The key as BLAKE2b takes it (at most 64 bytes): longer keys are hashed down first."""
    return key if len(key) <= 64 else hashlib.blake2b(key, person=b"linkage-longkey").digest()


def key_check_value(key: bytes) -> str:
    """First 8 bytes (hex) of a keyed hash of a fixed label: same key, same value."""
    digest = hashlib.blake2b(_KCV_LABEL, key=mac_key(key), digest_size=32, person=b"linkage-kcv").digest()
    return digest[:8].hex()
