"""Two-party linking at the linkage unit: check, score, solve, choose a threshold, band.

The linkage unit holds encodings only. Files are linked only if they carry the same schema
fingerprint and key check value; the link table holds pseudonymous ids, scores and bands.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from .._version import __version__
from ..defaults import BLOCKING, FLOOR, KERNEL, REVIEW_WIDTH, TOP_K
from ..errors import InputError, IntegrityError
from ..format.encoded import Encoded, EncodedFile, open_encoded, read_encoded
from ..format.files import check_outputs
from ..format.links import BELOW, LINK_COLUMNS, POSSIBLE, link_table_outputs, write_links, write_review
from .block import BLOCKINGS, Blocked, Blocking, LshPlan, blocked_scores, impute_best
from .distribute import Cluster, Runner, open_runner
from .score import Pairs, dice_pairs_parts, estimate_kept_pairs
from .solve import band_labels, review_floor, solve_one_to_one
from .threshold import MatchModel, ThresholdFit, default_match_model, estimate_threshold

__all__ = ["LinkResult", "LinkRun", "check_compatible", "link", "link_files", "read_match_model"]

_PAIR_BYTES = 64  # memory per kept candidate pair, with the sorting and assignment copies
_CANDIDATE_BYTES = 48  # memory per candidate pair from blocking while it is found, sorted and scored


@dataclass(frozen=True)
class LinkResult:
    """Links (``id_a, id_b, score, band``), the threshold used and how it was chosen.

    ``threshold`` is None when it was to be estimated and the scores show no match
    component: then there are no ``match`` or ``possible`` links. ``review`` lists, for each
    ``possible`` link, the other candidates of both records (for clerical review).
    """

    links: pl.DataFrame
    threshold: float | None
    review_width: float
    fit: ThresholdFit | None
    top_k: int | None
    kernel: str
    comparisons: int
    candidates: int
    model: str | None = None  # where the reference match-score model came from
    review: pl.DataFrame | None = field(default=None, repr=False)
    blocking: dict[str, Any] | None = None  # how candidate pairs were found (None: every pair scored)
    engine: dict[str, Any] | None = None  # where the parts of B were scored (this process, or Dask)
    seconds: dict[str, float] | None = None  # wall time of each stage: sample, candidates or scoring, the rest

    def band_counts(self) -> dict[str, int]:
        vc = self.links["band"].value_counts()
        return {str(b): int(n) for b, n in vc.iter_rows()}

    def summary(self) -> dict[str, Any]:
        """What `linkage link` stores beside the links: threshold, estimates, counts."""
        source = "given" if self.fit is None else ("estimated" if self.fit.evidence else "no evidence of matches")
        out: dict[str, Any] = {
            "threshold": self.threshold,
            "threshold_source": source,
            "review_width": self.review_width,
            "kernel": self.kernel,
            "top_k": self.top_k,
            "comparisons": self.comparisons,
            "candidate_pairs": self.candidates,
            "bands": self.band_counts(),
            "blocking": self.blocking or {"method": "none"},
            "engine": self.engine or {"engine": "local"},
        }
        if self.fit:
            f = self.fit
            out["estimated"] = {
                "precision": f.precision,
                "recall": f.recall,
                "f1": f.f1,
                "precision_interval": list(f.precision_interval),
                "recall_interval": list(f.recall_interval),
                "expected_matches": f.expected_matches,
                "evidence": f.evidence,
                "method": f.method,
                "match_model": self.model,
                "warnings": list(f.warnings),
            }
            if f.match_scores is not None and f.expected_matches >= 1:
                model = MatchModel(f.match_scores[None, :], source="fitted by linkage link",
                                   pairs=int(round(f.expected_matches)))
                out["match_model"] = model.to_dict()
        return out


def _same_encodings(a: Encoded | EncodedFile, b: Encoded | EncodedFile) -> bool:
    if a is b or (a.sha256 is not None and a.sha256 == b.sha256):
        return True
    if len(a) != len(b) or a.schema.output_length != b.schema.output_length:
        return False
    ids_a, ids_b = a.record_ids.to_numpy(), b.record_ids.to_numpy()
    oa, ob = np.argsort(ids_a), np.argsort(ids_b)  # in any order
    if not np.array_equal(ids_a[oa], ids_b[ob]):
        return False
    return bool(np.array_equal(a.read_part(0, len(a)).clks[oa], b.read_part(0, len(b)).clks[ob]))


def check_compatible(a: Encoded | EncodedFile, b: Encoded | EncodedFile, *,
                     names: tuple[str, str] = ("A", "B")) -> None:
    """Refuse files encoded with different schemas or keys, empty files, or a file and itself."""
    for enc, name in zip((a, b), names):
        if not isinstance(enc, (Encoded, EncodedFile)):
            raise InputError(f"{name}: expected an Encoded (from encode_frame or read_encoded) or an opened "
                             f"encoded file (open_encoded), got {type(enc).__name__}")
    if a.schema.fingerprint() != b.schema.fingerprint():
        diff = a.schema.difference(b.schema, names=names) or "their fingerprints differ"
        raise IntegrityError(
            f"{names[0]} and {names[1]} were encoded with different schemas ({diff}); "
            "ask the providers to encode with the same schema"
        )
    if a.key_check != b.key_check:
        raise IntegrityError(
            f"{names[0]} and {names[1]} were encoded with different keys (key check values differ); "
            "ask the providers to use the same shared key"
        )
    for enc, name in zip((a, b), names):
        if len(enc) == 0:
            raise InputError(f"{name}: holds no encoded records")
    if _same_encodings(a, b):
        raise InputError(
            f"{names[0]} and {names[1]} hold the same encodings: linking a file with itself finds every record "
            "as its own match; to find duplicates within one file, de-duplicate it instead"
        )


def _available_memory() -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _peak_memory() -> int | None:
    """Peak resident memory of this process so far, in bytes (None where the system cannot say)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # bytes on macOS, KiB on Linux


def _candidate_budget() -> float | None:
    """How many candidate pairs blocking may make in the memory available (None: unknown)."""
    have = _available_memory()
    return None if have is None else 0.5 * have / _CANDIDATE_BYTES


def _check_memory(a: Encoded, b: Encoded | EncodedFile, lowest: float, top_k: int | None) -> None:
    """Before scoring every pair above ``lowest`` (no top-k), refuse a job that would not fit."""
    if top_k is not None:
        return
    part = b.read_part(0, min(len(b), 1 << 16))  # B's first rows stand for all of it
    pairs = estimate_kept_pairs(a.clks, part.clks, threshold=lowest) * len(b) / max(len(part), 1)
    need, have = pairs * _PAIR_BYTES, _available_memory()
    if have is not None and need > 0.8 * have:
        raise InputError(
            f"keeping every pair scoring {lowest:g} or more would hold about {pairs:,.0f} pairs "
            f"({need / 2**30:,.1f} GiB, with {have / 2**30:,.1f} GiB available); raise --min-score or "
            f"keep the best few per record with --top-k"
        )


def _review_rows(review_id: np.ndarray, side: str, id_a: np.ndarray, id_b: np.ndarray, score: np.ndarray):
    return pl.DataFrame(
        {"review_id": review_id, "candidate_of": [side] * len(review_id), "id_a": id_a, "id_b": id_b, "score": score},
        schema={"review_id": pl.Int64, "candidate_of": pl.Utf8, "id_a": pl.Utf8, "id_b": pl.Utf8, "score": pl.Float64},
    )


def _review(assigned: Pairs, bands: np.ndarray, pairs: Pairs, ids_a: np.ndarray, ids_b: np.ndarray) -> pl.DataFrame:
    """For each ``possible`` link, the link itself and the other candidates of both its records."""
    which = np.flatnonzero(bands == POSSIBLE)
    rows = []
    for side, key, other in (("a", assigned.i, pairs.i), ("b", assigned.j, pairs.j)):
        # Each possible link is the only one of its A row and of its B row: map rows to links.
        order = np.argsort(key[which], kind="stable")
        keys = key[which][order]
        pos = np.clip(np.searchsorted(keys, other), 0, max(len(keys) - 1, 0))
        hit = (keys[pos] == other) if len(keys) else np.zeros(len(other), dtype=bool)
        rows.append(_review_rows(order[pos[hit]] + 1, side, ids_a[pairs.i[hit]], ids_b[pairs.j[hit]],
                                 pairs.score[hit]))
    links = _review_rows(np.arange(1, len(which) + 1), "link", ids_a[assigned.i[which]], ids_b[assigned.j[which]],
                         assigned.score[which])
    both = pl.concat([links, *rows], how="vertical_relaxed")
    linked = links.select("review_id", pl.col("id_a").alias("_a"), pl.col("id_b").alias("_b"))
    both = both.join(linked, on="review_id").filter(
        (pl.col("candidate_of") == "link") | ~((pl.col("id_a") == pl.col("_a")) & (pl.col("id_b") == pl.col("_b")))
    ).drop("_a", "_b").unique(maintain_order=True)
    order = pl.col("candidate_of").replace_strict({"link": 0, "a": 1, "b": 2}, return_dtype=pl.Int8)
    return both.sort(["review_id", order, pl.col("score")], descending=[False, False, True])


def link(
    a: Encoded | EncodedFile,
    b: Encoded | EncodedFile,
    *,
    threshold: float | None = None,
    review_width: float = REVIEW_WIDTH,
    min_score: float | None = None,
    floor: float = FLOOR,
    top_k: int | None = TOP_K,
    kernel: str = KERNEL,
    match_model: MatchModel | None = None,
    blocking: Blocking | str = BLOCKING,
    cluster: Cluster | None = None,
    quiet: bool = True,
    names: tuple[str, str] = ("A", "B"),
) -> LinkResult:
    """Link two encoded files one-to-one.

    With ``threshold=None`` the threshold is estimated from the data (see
    :func:`linkage.linker.threshold.estimate_threshold`), using ``match_model`` or, when None,
    the packaged model for the files' schema if there is one; when the scores show no match
    component nothing is banded ``match``. Links at or above the threshold are ``match``;
    within ``review_width`` below it, ``possible`` (clerical review). Assigned pairs down to
    ``min_score`` are also returned, as ``below``, for threshold curves: ``min_score`` may
    go below ``floor``, the lowest score the estimate looks at. Each A record keeps its
    ``top_k`` best candidates (``0`` or ``None``: every pair above the lowest score asked
    for; a job that would not fit in memory is refused before it starts). ``names`` label
    the two inputs in error messages. ``blocking`` (a :class:`~linkage.linker.block.Blocking`
    or its method: ``auto``, ``lsh``, ``none``) says whether only candidate pairs from
    locality-sensitive hashing are scored; then a seeded sample of A is also scored against
    all of B, so the threshold estimate sees what all-pairs scoring would, and the estimated
    recall counts the pairs blocking missed.

    B may be an opened encoded file (:func:`~linkage.format.encoded.open_encoded`): it is read a
    part at a time, so memory grows with A and one part of B; put the larger file second.
    ``cluster`` runs the parts as tasks on Dask (:class:`~linkage.linker.distribute.Cluster`),
    with the same result.
    """
    check_compatible(a, b, names=names)
    if isinstance(a, EncodedFile):
        a = a.load()
    for label, value in (("threshold", threshold), ("min_score", min_score), ("floor", floor)):
        if value is not None and (not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0):
            raise InputError(f"{label} must be a number from 0 to 1")
    if floor >= 1.0:
        raise InputError("floor must be below 1")
    if threshold is not None and threshold <= 0.0:
        raise InputError("threshold must be above 0")
    if not isinstance(review_width, (int, float)) or not 0.0 <= review_width < 1.0:
        raise InputError("review_width must be a number from 0 to below 1")
    if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 0):
        raise InputError("top_k must be a whole number: 0 (or None) for every pair, or the candidates per record")
    top_k = top_k or None
    if not isinstance(blocking, Blocking):
        if blocking not in BLOCKINGS:
            raise InputError(f"blocking must be one of {', '.join(BLOCKINGS)}")
        blocking = Blocking(method=blocking)
    lowest = floor if threshold is None else review_floor(threshold, review_width)
    if min_score is not None:
        lowest = min(lowest, min_score)
    lowest = max(lowest, 0.0)
    model = match_model if match_model is not None else default_match_model(a.schema.fingerprint())
    keys = _blocking_keys(a, b, blocking, names) if blocking.blocks(len(a), len(b)) else None
    started = time.perf_counter()
    with open_runner(cluster) as runner:
        blocked, declined, scores = _scores(a, b, runner, lowest=lowest, top_k=top_k, kernel=kernel,
                                            blocking=blocking, keys=keys, threshold=threshold, floor=floor,
                                            model=model, quiet=quiet)
        engine = runner.describe()
    scored = time.perf_counter()
    assigned = solve_one_to_one(scores.pairs)
    fit, source = None, None
    if threshold is None:
        if model is not None:
            source = model.source or "given"
        keep = assigned.score >= floor
        best = scores.best if blocked is None else impute_best(blocked, seed=blocking.seed)[0]
        fit = estimate_threshold(assigned.select(keep), best, floor=floor, model=model)
        if blocked is not None:
            fit = _with_completeness(fit, blocked, len(a))
        threshold = fit.threshold
    if threshold is None:
        bands = np.full(len(assigned), BELOW, dtype=object)
    else:
        bands = band_labels(assigned.score, threshold=threshold, review_width=review_width)
    show = bands != BELOW if min_score is None else (bands != BELOW) | (assigned.score >= min_score)
    ids_a, ids_b = a.record_ids.to_numpy(), b.record_ids.to_numpy()
    columns = (ids_a[assigned.i[show]], ids_b[assigned.j[show]], assigned.score[show], bands[show])
    types = (pl.Utf8, pl.Utf8, pl.Float64, pl.Utf8)
    links = pl.DataFrame(dict(zip(LINK_COLUMNS, columns)), schema=dict(zip(LINK_COLUMNS, types)))
    return LinkResult(
        links=links,
        threshold=None if threshold is None else float(threshold),
        review_width=review_width,
        fit=fit,
        top_k=top_k,
        kernel=scores.kernel,
        comparisons=scores.comparisons,
        candidates=len(scores.pairs),
        model=source,
        review=_review(assigned, bands, scores.pairs, ids_a, ids_b),
        blocking=declined if blocked is None else _blocking_summary(blocked, blocking, len(a), len(b), threshold,
                                                                    fit, a.schema.blocking_keys),
        engine=engine,
        seconds={**(blocked.seconds if blocked is not None else {"scoring": round(scored - started, 3)}),
                 "assignment_and_threshold": round(time.perf_counter() - scored, 3)},
    )


def _scores(a: Encoded, b: Encoded | EncodedFile, runner: Runner, *, lowest: float, top_k: int | None, kernel: str,
            blocking: Blocking, keys: np.ndarray | None, threshold: float | None, floor: float,
            model: MatchModel | None, quiet: bool):
    """Scores of blocking (with what it found), or of every pair, and what `auto` declined."""
    if blocking.blocks(len(a), len(b)):
        blocked = blocked_scores(a.clks, b, threshold=lowest, top_k=top_k, kernel=kernel, blocking=blocking,
                                 likely_above=threshold if threshold is not None else _sample_threshold(floor, model),
                                 keys=keys, max_candidates=_candidate_budget(), runner=runner, quiet=quiet)
        if isinstance(blocked, Blocked):
            return blocked, None, blocked.scores
        declined = _declined(blocked)
    else:
        declined = None
    _check_memory(a, b, lowest, top_k)
    return None, declined, dice_pairs_parts(a.clks, b, threshold=lowest, top_k=top_k, kernel=kernel, runner=runner,
                                            quiet=quiet)


def _blocking_keys(a: Encoded, b: Encoded | EncodedFile, blocking: Blocking,
                   names: tuple[str, str]) -> np.ndarray | None:
    """A's blocking keys, when ``blocking`` uses them (``keys``; ``auto`` if both files carry the same)."""
    if blocking.method not in ("keys", "auto"):
        return None
    same = a.schema.blocking_keys == b.schema.blocking_keys
    if a.has_block_keys and b.has_block_keys and same:
        return a.block_keys
    if blocking.method == "auto":
        return None
    for enc, name in zip((a, b), names):
        if not enc.has_block_keys:
            raise InputError(f"{name}: carries no blocking keys (schema [blocking]); --blocking keys needs them in "
                             "both files, or use --blocking lsh")
    ka, kb = (", ".join("+".join(k) for k in e.schema.blocking_keys) for e in (a, b))
    raise InputError(f"{names[0]} and {names[1]} carry different blocking keys ({ka} against {kb}); "
                     "ask the providers to encode with the same [blocking] keys")


def _declined(plan: LshPlan) -> dict[str, Any]:
    """What `auto` says when blocking would not pay for these encodings."""
    return {"method": "none", "chosen_by": "auto", **plan.to_dict(), "notes": [
        f"blocking would not pay: to keep {plan.expected_completeness:.1%} of the likely matches, LSH needs "
        f"{plan.expected_share:.1%} of the pairs as candidates (true pairs of this encoding agree on few more "
        "bits than random pairs do), so every pair was scored"]}


def _sample_threshold(floor: float, model: MatchModel | None):
    """Where the sample's likely matches start: the threshold estimated on the sample alone."""
    def at(links: Pairs, best: np.ndarray) -> float | None:
        fit = estimate_threshold(links.select(links.score >= floor), best, floor=floor, model=model, bootstrap=0)
        return fit.threshold
    return at


def _posterior(fit: ThresholdFit, blocked: Blocked, n_a: int):
    """The fit's chance that a link scoring ``s`` is a match, from its precision curve.

    The fit's precision is over links as all-pairs scoring makes them: their counts come from
    the sample's links, scaled to all of A.
    """
    grid = fit.curve["threshold"].to_numpy()
    scores = np.sort(blocked.sample_links.score)
    links = (len(scores) - np.searchsorted(scores, grid)) * (n_a / max(len(blocked.sample), 1))
    tp = fit.curve["precision"].to_numpy() * links
    d_links, d_tp = -np.diff(links, append=0), -np.diff(tp, append=0.0)
    p = np.clip(np.divide(d_tp, d_links, out=np.ones(len(grid)), where=d_links > 0), 0.0, 1.0)
    return lambda s: p[np.clip(np.searchsorted(grid, s, side="right") - 1, 0, len(grid) - 1)]


def _with_completeness(fit: ThresholdFit, blocked: Blocked, n_a: int) -> ThresholdFit:
    """Recall of links made from candidates: all-pairs recall times the share of matches blocking kept."""
    if fit.threshold is None:
        return fit
    pc, n = blocked.completeness(fit.threshold, _posterior(fit, blocked, n_a))
    if pc is None or pc >= 1.0:
        return fit
    recall = float(fit.recall * pc)
    f1 = 2 * fit.precision * recall / (fit.precision + recall) if fit.precision + recall > 0 else 0.0
    lo = max(0.0, pc - 2.0 * np.sqrt(pc * (1 - pc) / max(n, 1)))  # about 95%, normal approximation
    interval = (float(fit.recall_interval[0] * lo), float(fit.recall_interval[1] * min(1.0, pc + (pc - lo))))
    warn = (f"blocking kept about {pc:.1%} of the sample's matches (of {n} links): recall is lower by that "
            "much; score more pairs (more bands, or --blocking none) to keep more")
    return dataclasses.replace(fit, recall=recall, f1=f1, recall_interval=interval,
                               warnings=fit.warnings + ((warn,) if pc < 0.99 else ()))


def _blocking_summary(blocked: Blocked, blocking: Blocking, n_a: int, n_b: int, threshold: float | None,
                      fit: ThresholdFit | None, keys: tuple[tuple[str, ...], ...]) -> dict[str, Any]:
    pc, n = (blocked.completeness(threshold, None if fit is None else _posterior(fit, blocked, n_a))
             if threshold is not None else (None, 0))
    how = ({"method": "keys", "keys": ["+".join(k) for k in keys]} if blocked.plan is None
           else {"method": "lsh", **blocked.plan.to_dict()})
    return {
        **how,
        "chosen_by": blocking.method,
        "seed": blocking.seed,
        "candidate_pairs": blocked.candidates,
        "reduction_ratio": 1.0 - blocked.candidates / (n_a * n_b),
        "sample_records": len(blocked.sample),
        "estimated_completeness": pc,  # share of the sample's matches at the threshold that blocking found
        "sample_links": n,
        "notes": list(blocked.plan.notes) if blocked.plan is not None else [],
    }


def read_match_model(path: str | Path) -> MatchModel:
    """A match-score model from `linkage calibrate`, or the one a link summary learnt."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and "match_model" in data:
            data = data["match_model"]
        return MatchModel.from_dict(data)
    except FileNotFoundError:
        raise InputError(f"{path}: match model not found") from None
    except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError):
        raise InputError(f"{path}: not a match model (from `linkage calibrate`) or a link summary with one") from None


@dataclass(frozen=True)
class LinkRun:
    """What :func:`link_files` did: the result, the summary written beside the table, the files."""

    result: LinkResult
    summary: dict[str, Any]
    out: Path
    review: Path | None
    replaced: tuple[Path, ...]


def _input_record(enc: Encoded, path: Path) -> dict[str, Any]:
    return {"file": path.name, "sha256": enc.sha256, "provider": enc.provider, "records": len(enc),
            "counts": vars(enc.counts), "created": enc.created}


def link_files(
    file_a: str | Path,
    file_b: str | Path,
    out: str | Path,
    *,
    review: str | Path | None = None,
    match_model: str | Path | MatchModel | None = None,
    force: bool = False,
    quiet: bool = True,
    **options: Any,
) -> LinkRun:
    """Verify and link two encoded files, and write the link table, its summary and the review list.

    ``options`` are those of :func:`link`; ``match_model`` may be a path (from `linkage
    calibrate`, or a link summary). ``review`` writes, for each ``possible`` link, the other
    candidates of both records. ``force`` replaces these outputs, nothing else.
    """
    started = time.perf_counter()
    file_a, file_b = Path(file_a), Path(file_b)
    outputs = link_table_outputs(out) + ([Path(review)] if review else [])
    inputs = (file_a, file_b, match_model if isinstance(match_model, (str, Path)) else None)
    replaced = check_outputs(outputs, inputs=inputs, force=force)
    if isinstance(match_model, (str, Path)):
        match_model = read_match_model(match_model)
    a, b = read_encoded(file_a), open_encoded(file_b)  # B is read a part at a time
    res = link(a, b, quiet=quiet, names=(str(file_a), str(file_b)), match_model=match_model, **options)
    summary = {
        "tool_version": __version__,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "inputs": {"a": _input_record(a, file_a), "b": _input_record(b, file_b)},
        "file_a": file_a.name, "file_b": file_b.name, "provider_a": a.provider, "provider_b": b.provider,
        "schema_fingerprint": a.schema.fingerprint(), "key_check": a.key_check, **res.summary(),
        "peak_memory_bytes": _peak_memory(), "seconds": round(time.perf_counter() - started, 3),
        "seconds_by_stage": res.seconds,
    }
    write_links(res.links, outputs[0], summary=summary, force=force)
    if review:
        write_review(res.review, review, force=force)
    return LinkRun(res, summary, outputs[0], Path(review) if review else None, tuple(replaced))
