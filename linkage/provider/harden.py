"""Hardening of record filters: the schema's ``[hardening]`` options (:mod:`linkage.schema.hardening`).

The Bloom-filter stage (field keys and salts) runs in :mod:`.encode`, which takes its keys
and salt values from here; the stages after it run here, in this order: balance -> XOR-fold
-> diffusion -> BLIP. Every key, permutation and position is derived from the secret with
HKDF (:func:`linkage.provider.keys.derive_key`) and expanded with SHAKE-256, so every
provider holding the key hardens alike, whatever its numpy version; nothing depends on a
random generator's stream.

Vectorised: permutations and diffusion are row gathers on *bit-sliced* filters (one row per
bit position, 8 records a byte; 8x8 bits transposed at a time in uint64 words); BLIP hashes
each record id once and reads the digest as flip patterns of 16 bits each (an alias table of
integer weights), so it costs the same for every flip probability.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

import numpy as np
import polars as pl

from ..progress import progress
from ..schema import Salt, Schema
from ..schema.hardening import DATE_PARTS
from .keys import derive_key

__all__ = [
    "NO_SALT", "HardeningPlan", "blip_mask", "diffusion_positions", "feature_key", "from_sliced", "harden_filters",
    "keyed_permutation", "plan_hardening", "salt_table", "to_sliced",
]

NO_SALT = ""  # the salt of a record whose salt field is missing (no standardised value is empty)
_CHUNK = 1 << 13  # records hardened at a time (the transposes stay in cache)
_PATTERN_BITS = 16  # BLIP draws the flips of 16 bits at once


def feature_key(key: bytes, feature: str) -> bytes:
    """The key a field feature hashes its tokens with when ``field_keys`` is on."""
    return derive_key(key, f"linkage field key\x1f{feature}")


def salt_table(values: pl.Series, salt: Salt, key: bytes) -> tuple[np.ndarray, list[str]]:
    """Salt of each distinct value of the salt field, and of a missing one (the last entry).

    Returns the index of each value's salt (``len(values) + 1`` entries) and the distinct
    salt strings: the value's ``part`` (the whole value, or the year, month or day of a date),
    :data:`NO_SALT` for a missing value, each replaced by a keyed hash when ``salt.keyed``.
    """
    if salt.part == "whole":
        parts = values
    else:
        start, n = DATE_PARTS[salt.part]
        parts = values.str.slice(start, n)
    distinct = parts.unique().sort()
    index = parts.cast(pl.Enum(distinct)).to_physical().to_numpy().astype(np.int64)
    strings = [*distinct.to_list(), NO_SALT]
    if salt.keyed:
        k = derive_key(key, "linkage salt key")
        strings = [hashlib.blake2b(s.encode(), key=k, digest_size=16, person=b"linkage-salt").hexdigest()
                   for s in strings]
    return np.append(index, len(distinct)), strings


def _stream(subkey: bytes, nbytes: int) -> bytes:
    """``nbytes`` pseudorandom bytes from a derived key (SHAKE-256, the key as a fixed-length prefix)."""
    return hashlib.shake_256(b"linkage stream\x1f" + subkey).digest(nbytes)


def keyed_permutation(subkey: bytes, n: int) -> np.ndarray:
    """A permutation of ``range(n)`` drawn from a derived key: indices sorted by 64-bit keyed values."""
    return np.argsort(np.frombuffer(_stream(subkey, 8 * n), dtype="<u8"), kind="stable")


def diffusion_positions(key: bytes, n_in: int, n_out: int, t: int) -> np.ndarray:
    """``(t, n_out)`` input positions: output bit ``j`` is the XOR of inputs ``positions[:, j]``.

    The ``t * n_out`` positions run through keyed permutations of the inputs one after
    another, so each input bit feeds ``t * n_out / n_in`` outputs, rounded down or up; a column
    holding an input twice swaps an entry with a later column of the same row (which keeps
    those counts), so each output bit depends on exactly ``t`` distinct inputs.
    """
    label = f"linkage diffusion\x1f{n_in}\x1f{n_out}\x1f{t}"
    perms = [keyed_permutation(derive_key(key, f"{label}\x1f{c}"), n_in) for c in range(-(-t * n_out // n_in))]
    pos = np.concatenate(perms)[: t * n_out].reshape(t, n_out)

    def repeats(j: int) -> bool:
        return len(set(pos[:, j].tolist())) < t

    s = np.sort(pos, axis=0)
    for j in np.flatnonzero((s[1:] == s[:-1]).any(axis=0)).tolist():
        while repeats(j):
            col = pos[:, j].tolist()
            r = next(r for r in range(1, t) if col[r] in col[:r])
            for d in range(1, n_out):
                k = (j + d) % n_out
                a, b = pos[r, j], pos[r, k]
                if b not in col and a not in np.delete(pos[:, k], r):
                    pos[r, j], pos[r, k] = b, a
                    break
            else:  # pragma: no cover - the schema keeps t at most a quarter of the input length
                raise RuntimeError("diffusion: no swap repairs a column")
    return pos


def _flip(x: np.ndarray) -> np.ndarray:
    """Transpose the 8x8 bit matrix in each little-endian uint64 (byte ``i`` is row ``i``, bits MSB first).

    Bit ``8i + 7 - c`` (row ``i``, column ``c``) moves to bit ``8c + 7 - i``: the flip about
    the anti-diagonal of the chess-programming trick, in three delta swaps.
    """
    k1, k2, k4 = np.uint64(0xAA00AA00AA00AA00), np.uint64(0xCCCC0000CCCC0000), np.uint64(0xF0F0F0F00F0F0F0F)
    s9, s18, s36 = np.uint64(9), np.uint64(18), np.uint64(36)
    t = x ^ (x << s36)
    x = x ^ (k4 & (t ^ (x >> s36)))
    t = k2 & (x ^ (x << s18))
    x = x ^ t ^ (t >> s18)
    t = k1 & (x ^ (x << s9))
    return x ^ t ^ (t >> s9)


def to_sliced(packed: np.ndarray) -> np.ndarray:
    """Bit-sliced filters: ``(n, L/8)`` packed filters (``n`` a multiple of 64) to ``(L, n/8)``.

    Row ``i`` holds bit ``i`` of every filter; byte ``g`` of a row holds filters ``8g .. 8g+7``,
    the first in its most significant bit. Bytes move 8 at a time (as uint64) wherever they
    move far, so the transposes stay fast.
    """
    n, nbytes = packed.shape
    words = np.ascontiguousarray(packed.reshape(n // 8, 8, nbytes).transpose(0, 2, 1)).view("<u8")[..., 0]
    x = _flip(words).astype("<u8", copy=False).view(np.uint8)
    x = x.reshape(n // 64, 8, nbytes * 8)  # [64 filters, 8 filters, bit]
    y = np.ascontiguousarray(x.transpose(0, 2, 1)).view("<u8")[..., 0]  # [64 filters, bit] as 8 bytes
    return np.ascontiguousarray(y.T).view(np.uint8)


def from_sliced(sliced: np.ndarray) -> np.ndarray:
    """Packed filters from bit-sliced ones: ``(L, m)`` to ``(8m, L/8)`` (the inverse of :func:`to_sliced`).

    ``m`` must be a multiple of 8.
    """
    bits, m = sliced.shape
    x = np.ascontiguousarray(np.ascontiguousarray(sliced).view("<u8").T).view(np.uint8)  # [64 filters, bit, 8]
    y = np.ascontiguousarray(x.reshape(m // 8, bits, 8).transpose(0, 2, 1))  # [64 filters, 8 filters, bit]
    words = _flip(y.reshape(m, bits // 8, 8).view("<u8")[..., 0]).astype("<u8", copy=False)
    return np.ascontiguousarray(words.view(np.uint8).reshape(m, bits // 8, 8).transpose(0, 2, 1)).reshape(8 * m, -1)


@functools.lru_cache(maxsize=8)
def _flip_patterns(f: float) -> tuple[np.ndarray, np.ndarray]:
    """Alias table (Walker, Vose) of the 16-bit flip patterns, each bit set with probability ``f``.

    Pattern ``v`` has probability ``w[v] / 2**32``, ``w`` the integers nearest ``f**k (1 - f)**(16 - k)
    * 2**32`` (``k`` its bits set) that sum to ``2**32``, so each bit flips with probability ``f``
    to within about 1e-7. A 32-bit uniform picks column ``u >> 16`` and keeps it when
    ``u & 0xFFFF < keep[column]``, else takes ``alias[column]``. The powers are products of
    floats (exactly rounded, the same everywhere) and the table is built in integers, so every
    platform draws alike.
    """
    n, cap = 1 << _PATTERN_BITS, 1 << (32 - _PATTERN_BITS)
    powers_f, powers_q = [1.0], [1.0]
    for _ in range(_PATTERN_BITS):
        powers_f.append(powers_f[-1] * f)
        powers_q.append(powers_q[-1] * (1.0 - f))
    by_k = np.array([powers_f[k] * powers_q[_PATTERN_BITS - k] * 2.0**32 for k in range(_PATTERN_BITS + 1)])
    scaled = by_k[np.bitwise_count(np.arange(n, dtype=np.uint32))]
    w = np.floor(scaled).astype(np.int64)
    short = (1 << 32) - int(w.sum())  # about n / 2: hand the units left to the largest remainders
    w[np.lexsort((np.arange(n), -(scaled - w)))[:short]] += 1
    keep, alias = w.tolist(), list(range(n))
    small = [i for i in range(n) if keep[i] < cap]
    large = [i for i in range(n) if keep[i] > cap]
    while small and large:
        lo, hi = small.pop(), large.pop()
        alias[lo] = hi
        keep[hi] -= cap - keep[lo]
        (small if keep[hi] < cap else large if keep[hi] > cap else []).append(hi)
    return np.array(keep, dtype=np.int64), np.array(alias, dtype=np.uint16)


def blip_mask(record_ids: list[str], subkey: bytes, f: float, length: int) -> np.ndarray:
    """Packed flip masks ``(n, length/8)``: each bit set with probability ``f``, from the record id.

    Each record's id is hashed once (SHAKE-256 under ``subkey``) into one 32-bit uniform per 16
    bits of filter, each drawing those bits' flip pattern from :func:`_flip_patterns`.
    """
    keep, alias = _flip_patterns(f)
    words = -(-length // _PATTERN_BITS)
    prefix = b"linkage blip\x1f" + subkey
    buf = b"".join([hashlib.shake_256(prefix + r.encode("utf-8")).digest(4 * words) for r in record_ids])
    u = np.frombuffer(buf, dtype="<u4").reshape(len(record_ids), words)
    column = u >> np.uint32(_PATTERN_BITS)
    pattern = np.where(u & np.uint32(0xFFFF) < np.take(keep, column), column, np.take(alias, column))
    return pattern.astype(">u2").view(np.uint8)[:, : length // 8]


@dataclass(frozen=True, eq=False)
class HardeningPlan:
    """What hardening does to every filter, drawn once per schema and key.

    ``permutation``: balance (output bit ``j`` is bit ``permutation[j]`` of the filter followed
    by its complement), or None; ``fold``: XOR-fold; ``positions``: diffusion (see
    :func:`diffusion_positions`), or None; ``blip``: the flip probability (0: none) with
    ``blip_key`` and ``length``, the filter length BLIP sees.
    """

    permutation: np.ndarray | None
    fold: bool
    positions: np.ndarray | None
    blip: float
    blip_key: bytes
    length: int

    @property
    def sliced(self) -> bool:
        """Whether a stage moves single bits (balance, diffusion), so filters are bit-sliced."""
        return self.permutation is not None or self.positions is not None

    def apply(self, packed: np.ndarray, record_ids: list[str] | None = None) -> np.ndarray:
        """The hardened filters of ``packed`` (``(n, filter_length/8)``), whose ids BLIP needs."""
        n = len(packed)
        if self.sliced:
            pad = -n % 64
            q = to_sliced(np.pad(packed, ((0, pad), (0, 0))) if pad else packed)
            if self.permutation is not None:
                q = np.concatenate([q, ~q])[self.permutation]
            if self.fold:
                q = q[: len(q) // 2] ^ q[len(q) // 2 :]
            if self.positions is not None:
                out = q[self.positions[0]]
                for row in self.positions[1:]:
                    out ^= q[row]
                q = out
            packed = from_sliced(q)[:n]
        elif self.fold:
            half = packed.shape[1] // 2
            packed = packed[:, :half] ^ packed[:, half:]
        if self.blip:
            if record_ids is None or len(record_ids) != n:
                raise ValueError("BLIP needs the record id of every filter")
            packed = packed ^ blip_mask(record_ids, self.blip_key, self.blip, self.length)
        return np.ascontiguousarray(packed)


def plan_hardening(schema: Schema, key: bytes) -> HardeningPlan:
    """The permutation, diffusion positions and BLIP key of ``schema`` under ``key``."""
    h = schema.hardening
    n = schema.filter_length
    perm = None
    if h.balance:
        n *= 2
        perm = keyed_permutation(derive_key(key, f"linkage balance\x1f{n}"), n)
    if h.xor_fold:
        n //= 2
    positions = None
    if h.diffusion:
        positions = diffusion_positions(key, n, h.diffusion_length, h.diffusion)
        n = h.diffusion_length
    blip_key = derive_key(key, f"linkage blip\x1f{h.blip_seed}") if h.blip else b""
    return HardeningPlan(permutation=perm, fold=h.xor_fold, positions=positions, blip=h.blip, blip_key=blip_key,
                         length=n)


def harden_filters(clks: np.ndarray, record_ids: pl.Series, schema: Schema, key: bytes, *,
                   quiet: bool = True) -> np.ndarray:
    """Balance, XOR-fold, diffuse and BLIP packed filters as the schema says (unchanged when it says none).

    ``clks`` is ``(n, filter_length/8)``; the result is ``(n, output_length/8)``. BLIP reads
    ``record_ids`` (one per filter): the same record id gets the same flips.
    """
    h = schema.hardening
    if not (h.balance or h.xor_fold or h.diffusion or h.blip):
        return clks
    plan = plan_hardening(schema, key)
    ids = record_ids.to_list() if h.blip else None
    n = len(clks)
    out = np.empty((n, schema.output_length // 8), dtype=np.uint8)
    with progress(total=n, desc="hardening", quiet=quiet) as bar:
        for lo in range(0, n, _CHUNK):
            hi = min(lo + _CHUNK, n)
            out[lo:hi] = plan.apply(clks[lo:hi], ids[lo:hi] if ids is not None else None)
            bar.update(hi - lo)
    return out
