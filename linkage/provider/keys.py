"""The shared secret: made by ``linkage keygen``, read from a file or an environment variable.

One format everywhere: the key is written as hexadecimal text, in a key file (one line, mode
0600) and in an environment variable alike. Key files from linkage 0.1, which held the 32 raw
bytes, are still read: a file that is not hexadecimal text and holds exactly 32 bytes is one
of those (32 random bytes are all hexadecimal digits with a chance of about 1e-34).

The key never appears in output, in process arguments or in any file but its own, and no
message repeats a value that looks like one (a key passed where a path belongs). Only its key
check value (a keyed hash of a fixed label) travels, so the linkage unit can confirm that all
providers used the same key without learning it. The schema's hardening derives its keys from
the secret with HKDF (RFC 5869, HMAC-SHA256: :func:`hkdf`, :func:`derive_key`), one per purpose.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import stat
from pathlib import Path

from ..defaults import KEY_BYTES, MIN_KEY_BYTES
from ..errors import KeyFileError, looks_like_secret

__all__ = [
    "SHARE_ADVICE",
    "as_key",
    "check_key_length",
    "derive_key",
    "generate_key",
    "hkdf",
    "key_check_value",
    "key_from_env",
    "looks_like_secret",
    "read_key",
    "write_key",
]

_KCV_LABEL = b"linkage key check value v1"
_HKDF_SALT = b"linkage hkdf v1"  # domain separation for every key derived from the secret
_LEGACY_BYTES = 32  # linkage 0.1 wrote the raw key
_HEX = re.compile(r"[0-9a-fA-F]+")

SHARE_ADVICE = (
    "share it only with the other providers, never with the linkage unit: hand it over in person or over an "
    "encrypted channel (never by plain email or chat), keep it readable by its owner only (mode 0600), and "
    "never put it on a command line"
)


def _named(path: str | Path, what: str = "the key file") -> str:
    """The path for a message, unless it looks like a key itself (passed where a path belongs)."""
    text = str(path)
    return what if looks_like_secret(text) else text


def generate_key() -> bytes:
    """32 random bytes from the operating system's CSPRNG."""
    return secrets.token_bytes(KEY_BYTES)


def write_key(path: str | Path, key: bytes | str | None = None) -> Path:
    """Write a key to ``path`` as hexadecimal text, mode 0600; never overwrites a file."""
    path = Path(path)
    key = generate_key() if key is None else as_key(key, "key")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"{_named(path)}: already exists; keys are never overwritten, choose another path") from None
    except OSError as e:
        raise KeyFileError(f"{_named(path)}: cannot create the key file ({e.strerror})") from None
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key.hex() + "\n")
    os.chmod(path, 0o600)
    return path


def check_key_length(key: bytes, where: str) -> bytes:
    if len(key) < MIN_KEY_BYTES:
        raise KeyFileError(
            f"{where}: the key is shorter than {MIN_KEY_BYTES} bytes; make one with `linkage keygen`"
        )
    return key


def as_key(key: bytes | bytearray | str, where: str = "key") -> bytes:
    """A key as bytes: bytes as they are, text as hexadecimal (the format of key files)."""
    if isinstance(key, (bytes, bytearray)):
        return check_key_length(bytes(key), where)
    if isinstance(key, str):
        text = key.strip()
        if len(text) % 2 or not _HEX.fullmatch(text or "x"):
            raise KeyFileError(f"{where}: a key given as text must be hexadecimal (as `linkage keygen` writes it)")
        return check_key_length(bytes.fromhex(text), where)
    raise KeyFileError(f"{where}: expected the key as bytes or hexadecimal text, got {type(key).__name__}")


def read_key(path: str | Path) -> bytes:
    """Read a key file: hexadecimal text (or a linkage 0.1 raw key), owner-only, at least 16 bytes."""
    path = Path(path)
    name = _named(path)
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        hint = " (the value given looks like a key: pass the path of a key file)" if name != str(path) else ""
        raise KeyFileError(f"{name}: key file not found{hint}") from None
    except OSError as e:
        raise KeyFileError(f"{name}: cannot read the key file ({e.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise KeyFileError(f"{name}: the key file is not a regular file")
    if os.name == "posix" and st.st_mode & 0o077:
        raise KeyFileError(f"{name}: the key file is readable by other users; run `chmod 600` on it")
    if st.st_size > 4096:
        raise KeyFileError(f"{name}: too large for a key file; give the file `linkage keygen` wrote")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise KeyFileError(f"{name}: cannot read the key file ({e.strerror})") from None
    text = data.strip()
    if text and len(text) % 2 == 0 and _HEX.fullmatch(text.decode("ascii", "replace")):
        return check_key_length(bytes.fromhex(text.decode("ascii")), name)
    if len(data) == _LEGACY_BYTES:
        return data  # a raw key from linkage 0.1
    raise KeyFileError(f"{name}: not a key file: it should hold the key as hexadecimal text, as `linkage keygen` "
                       "writes it")


def key_from_env(name: str) -> bytes:
    """Read a key given as hexadecimal in the environment variable ``name``."""
    label = "the variable given" if looks_like_secret(name) else f"environment variable {name}"
    if looks_like_secret(name) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name or ""):
        raise KeyFileError(f"--key-env: {label} is not a variable name; pass the name of a variable that holds "
                           "the key, never the key itself")
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        raise KeyFileError(f"{label} is not set")
    return as_key(raw, label)


def mac_key(key: bytes) -> bytes:
    """The key as BLAKE2b takes it (at most 64 bytes): longer keys are hashed down first."""
    return key if len(key) <= 64 else hashlib.blake2b(key, person=b"linkage-longkey").digest()


def key_check_value(key: bytes) -> str:
    """First 8 bytes (hex) of a keyed hash of a fixed label: same key, same value."""
    digest = hashlib.blake2b(_KCV_LABEL, key=mac_key(key), digest_size=32, person=b"linkage-kcv").digest()
    return digest[:8].hex()


def hkdf(ikm: bytes, *, salt: bytes = b"", info: bytes = b"", length: int = 32) -> bytes:
    """HKDF with HMAC-SHA256 (RFC 5869): ``length`` bytes of key material from ``ikm``.

    Extract (an empty ``salt`` means 32 zero bytes), then expand with ``info``.
    """
    if not 0 < length <= 255 * 32:
        raise ValueError("HKDF-SHA256 gives 1 to 8160 bytes")
    prk = hmac.new(salt or bytes(32), ikm, hashlib.sha256).digest()
    okm, block = b"", b""
    for i in range(1, -(-length // 32) + 1):
        block = hmac.new(prk, block + info + bytes([i]), hashlib.sha256).digest()
        okm += block
    return okm[:length]


def derive_key(key: bytes, label: str) -> bytes:
    """A 32-byte key for one purpose (``label``), derived from the secret with HKDF.

    Keys for different labels are independent: learning one tells nothing of the secret or
    of the others.
    """
    return hkdf(key, salt=_HKDF_SALT, info=label.encode("utf-8"))
