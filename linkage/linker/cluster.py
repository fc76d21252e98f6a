"""Many files at the linkage unit: each pair of files linked, the links joined into clusters of one person.

Every pair of files (or, with a spine, the spine and each other file) is linked as two files
are (:func:`~linkage.linker.link.link`), with its own threshold estimated without labels; a
pair that shares too few people to place its own (a wide interval) borrows the median
threshold of the pairs whose estimates are certain, and claims no estimate
(:func:`pooled_threshold`). The ``match`` links of all pairs, best first, then join records
into clusters greedily: a link
joins two clusters only when they hold no record of the same provider, so a cluster is one
person with at most one record from each provider (anonlink's greedy multi-party solver,
with thresholds learnt per pair of files). A pair of files whose own scores expect fewer than
one match (benefits, of adults, and schools, of children) shares nobody, so no cluster may
hold records of both: a chain of links through a third file (a child's council record
mistaken for a parent's benefit claim) is refused. (Files that share a person or two look
the same; those people's records are then not joined through a third file.) With ``dedupe``,
each file is also linked with itself, and a link between two records of one provider (a
duplicate) may join their clusters; a cross-file link still may not bring a second record of
a provider in.

Clusters are a pure function of the links: ties in score go to the earlier pair of files,
then the lower record rows.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from .._version import __version__
from ..compiled import numba
from ..defaults import BLOCKING, FLOOR, TOP_K
from ..errors import InputError
from ..format.encoded import Encoded, EncodedFile, read_encoded
from ..format.files import atomic_path, check_outputs, write_safe_csv
from ..format.links import BELOW, MATCH, POSSIBLE
from .block import Blocking, key_candidates
from .link import LinkResult, check_compatible, link
from .score import Pairs, Scores, candidate_scores, dice_pairs
from .solve import band_labels, solve_one_to_one
from .threshold import MatchModel, ThresholdFit, default_match_model, estimate_threshold

__all__ = ["CLUSTER_COLUMNS", "PAIR_COLUMNS", "SAFE_LABEL", "Clusters", "cluster_outputs", "greedy_clusters",
           "link_files_many", "link_many", "pooled_threshold"]

CLUSTER_COLUMNS = ("linkage_id", "provider", "record_id", "best_score", "band")
PAIR_COLUMNS = ("provider_a", "id_a", "provider_b", "id_b", "score", "band")
_MAX_PROVIDERS = 63  # a cluster's providers are the bits of one 64-bit word
SAFE_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # a provider label names its release file


def _greedy(a: np.ndarray, b: np.ndarray, same: np.ndarray, provider: np.ndarray,
            apart: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Union-find over edges in the order given; an edge joins two clusters only if they share
    no provider, or (``same``: a duplicate within one provider) share none but that one, and
    neither holds a provider kept ``apart`` (a bit mask per provider) from one in the other.
    Returns each node's root and whether each edge was used."""
    n = provider.shape[0]
    parent = np.arange(n)
    mask = np.left_shift(np.int64(1), provider.astype(np.int64))
    forbid = apart[provider]
    used = np.zeros(a.shape[0], dtype=np.bool_)
    for e in range(a.shape[0]):
        x, y = a[e], b[e]
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        while parent[y] != y:
            parent[y] = parent[parent[y]]
            y = parent[y]
        if x == y:
            continue
        shared = mask[x] & mask[y]
        if same[e]:
            shared &= ~np.left_shift(np.int64(1), np.int64(provider[a[e]]))
        if shared != 0 or (mask[x] & forbid[y]) != 0 or (mask[y] & forbid[x]) != 0:
            continue
        if x < y:
            x, y = y, x
        parent[x] = y  # the lower root stays: clusters do not depend on the edges' order beyond it
        mask[y] |= mask[x]
        forbid[y] |= forbid[x]
        used[e] = True
    for v in range(n):
        r = v
        while parent[r] != r:
            r = parent[r]
        parent[v] = r
    return parent, used


_greedy_compiled = numba.njit(cache=True, nogil=True)(_greedy) if numba is not None else _greedy


def greedy_clusters(a: np.ndarray, b: np.ndarray, score: np.ndarray, provider: np.ndarray, *,
                    same: np.ndarray | None = None, apart: Sequence[tuple[int, int]] = (),
                    compiled: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Clusters of nodes from weighted edges ``(a, b, score)``, best edge first, at most one node
    of each ``provider`` (a small integer per node) in a cluster.

    Ties in score go to the edge listed first. ``same`` marks edges within one provider (duplicates)
    that may join clusters holding that provider. ``apart`` lists pairs of providers that never
    share a cluster. Returns each node's cluster (the lowest node in it) and whether each edge
    joined two clusters.
    """
    if len(provider) and int(provider.max()) > _MAX_PROVIDERS - 1:
        raise InputError(f"at most {_MAX_PROVIDERS} providers can be clustered at once")
    order = np.lexsort((np.arange(len(score)), -np.asarray(score)))
    same = np.zeros(len(a), dtype=bool) if same is None else np.asarray(same, dtype=bool)
    masks = np.zeros(_MAX_PROVIDERS, dtype=np.int64)
    for p, q in apart:
        if not (0 <= p < _MAX_PROVIDERS and 0 <= q < _MAX_PROVIDERS and p != q):
            raise ValueError(f"apart: ({p}, {q}) is not a pair of two providers from 0 to {_MAX_PROVIDERS - 1}")
        masks[p] |= np.int64(1) << np.int64(q)
        masks[q] |= np.int64(1) << np.int64(p)
    fn = _greedy_compiled if compiled else _greedy
    root, used = fn(np.asarray(a, np.int64)[order], np.asarray(b, np.int64)[order], same[order],
                    np.asarray(provider, np.int64), masks)
    out = np.empty(len(a), dtype=bool)
    out[order] = used
    return root, out


@dataclass(frozen=True)
class Clusters:
    """Clusters of records (``CLUSTER_COLUMNS``), the scored links (``PAIR_COLUMNS``) and the summary."""

    clusters: pl.DataFrame
    pairs: pl.DataFrame
    summary: dict[str, Any]


def _pair_summary(res: LinkResult, pa: str, pb: str) -> dict[str, Any]:
    s = res.summary()
    out = {"provider_a": pa, "provider_b": pb, "threshold": s["threshold"], "threshold_source": s["threshold_source"],
           "bands": s["bands"], "comparisons": s["comparisons"], "blocking": s["blocking"]}
    if "estimated" in s:
        est = s["estimated"]
        out["estimated"] = {k: est[k] for k in ("precision", "recall", "f1", "precision_interval", "recall_interval",
                                                "expected_matches", "warnings")}
    return out


def _uncertain(res: LinkResult) -> bool:
    """Whether a pair's estimated threshold rests on too few matches (its precision or recall interval is wide)."""
    f = res.fit
    return f is not None and f.evidence and res.threshold is not None and f.uncertain


def _shares_nobody(res: LinkResult) -> bool:
    """Whether a pair of files' own fit (estimated, not given) expects fewer than one match."""
    f = res.fit
    return f is not None and not f.evidence and f.expected_matches < 1.0


def pooled_threshold(results: Sequence[LinkResult]) -> float | None:
    """The median threshold of the pairs of files whose estimates are certain (None: there are none).

    The files share the schema and key, so their match scores fall alike; a pair that shares
    few people cannot place its own threshold well (its interval is wide), and borrows this one.
    """
    certain = [r.threshold for r in results if r.fit is not None and r.fit.evidence and r.threshold is not None
               and not _uncertain(r)]
    return float(np.median(certain)) if certain else None


def _with_threshold(res: LinkResult, summary: dict[str, Any], threshold: float) -> tuple[pl.DataFrame, dict]:
    """A pair's links banded at the pooled ``threshold``, and its summary saying so (with the estimate there)."""
    bands = band_labels(res.links["score"].to_numpy(), threshold=threshold, review_width=res.review_width)
    links = res.links.with_columns(pl.Series("band", bands.astype(str), dtype=pl.Utf8))
    (plo, phi), (rlo, rhi) = res.fit.precision_interval, res.fit.recall_interval
    note = (f"too few matches to place its own threshold ({res.threshold:.3f}, precision {plo:.2f}-{phi:.2f}, "
            f"recall {rlo:.2f}-{rhi:.2f}): it uses {threshold:.3f}, "
            "the median of the pairs of files whose estimates are certain; its precision and recall there are not "
            "estimated (too few matches): check a clerical sample")
    # No point estimate: the pair's own fit cannot say how good the links are at another threshold.
    est = {**summary.get("estimated", {}), "precision": None, "recall": None, "f1": None,
           "precision_interval": None, "recall_interval": None}
    est["warnings"] = [*est.get("warnings", []), note]
    counts = {str(b): int(n) for b, n in links["band"].value_counts().iter_rows() if b != BELOW}
    return links, {**summary, "threshold": threshold, "threshold_source": "pooled", "own_threshold": res.threshold,
                   "bands": counts, "estimated": est}


def _self_fit(rows: np.ndarray, scores: Scores, floor: float, model: MatchModel | None) -> ThresholdFit:
    """A file's own fit, without labels: ``rows`` of it (all, or a seeded sample) scored against
    all of it (``scores``), as A against B, each row's own record taken out."""
    best_s, best_j = scores.top
    others = np.where(best_j == rows[:, None], -1.0, best_s)
    best = np.maximum(-np.sort(-others, axis=1)[:, :TOP_K], 0.0)
    p = scores.pairs
    assigned = solve_one_to_one(p.select(p.j != rows[p.i]))
    return estimate_threshold(assigned.select(assigned.score >= floor), best, floor=floor, model=model)


def _each_pair_once(p: Pairs, n: int) -> Pairs:
    """Pairs of records of one file kept by either record, each once as ``(lower, higher)``; never
    a record with itself."""
    lo, hi = np.minimum(p.i, p.j), np.maximum(p.i, p.j)
    keep = lo != hi
    _, first = np.unique(lo[keep] * np.int64(n) + hi[keep], return_index=True)
    return Pairs(lo[keep][first], hi[keep][first], p.score[keep][first])


def _self_links(enc: Encoded, strictest: float, review_width: float, top_k: int, blocking: Blocking,
                model: MatchModel | None) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Duplicates within one file, and how they were sought.

    The file's records are scored against each other (only records that share a blocking key
    when ``blocking`` blocks a file of this size and the file carries keys; otherwise every
    pair) and the scores fitted as two files' are, without labels. A file whose scores show no
    evidence of duplicates gets none (relatives in one file look alike: twins in a school file
    are not one pupil); otherwise its one-to-one links at or above ``strictest`` (the strictest
    threshold of its pairs of files) are duplicates. The file's own threshold is reported, not
    used: it rests on few duplicates (a few percent of a file), and on a sample when blocked.
    """
    floor = min(FLOOR, strictest - review_width)
    n = len(enc)
    keyed = enc.has_block_keys and blocking.method in ("keys", "auto") and blocking.blocks(n, n)
    if keyed:
        # The fit from a seeded sample scored against the whole file, as blocked linking does.
        sample = np.sort(np.random.default_rng(blocking.seed).choice(n, blocking.sample_size(n, n), replace=False))
        fit = _self_fit(sample, dice_pairs(enc.clks[sample], enc.clks, threshold=floor, top_k=top_k + 1), floor, model)
        ci, cj = key_candidates(enc.block_keys, enc.block_keys)
        other = ci != cj  # never a record with itself
        method, compared = "keys", int(other.sum()) // 2
    else:
        scores = dice_pairs(enc.clks, enc.clks, threshold=floor, top_k=top_k + 1)
        fit = _self_fit(np.arange(n), scores, floor, model)
        method, compared = "none", n * (n - 1) // 2
    threshold = strictest if fit.evidence and fit.threshold is not None else None
    info = {"threshold": threshold, "evidence": threshold is not None, "own_threshold": fit.threshold,
            "blocking": method, "comparisons": compared}
    if threshold is None:
        return pl.DataFrame(schema={"id_a": pl.Utf8, "id_b": pl.Utf8, "score": pl.Float64, "band": pl.Utf8}), info
    if keyed:  # the key-sharing pairs are scored only for a file with duplicates to find
        scores = candidate_scores(enc.clks, enc.clks, ci[other], cj[other], threshold=floor, top_k=top_k)
    assigned = solve_one_to_one(_each_pair_once(scores.pairs, n))
    bands = band_labels(assigned.score, threshold=threshold, review_width=review_width)
    ids = enc.record_ids
    frame = pl.DataFrame({"id_a": ids.gather(assigned.i), "id_b": ids.gather(assigned.j), "score": assigned.score,
                          "band": pl.Series(bands.astype(str), dtype=pl.Utf8)}).filter(pl.col("band") != BELOW)
    return frame, info


def link_many(
    files: Sequence[Encoded | EncodedFile],
    *,
    spine: int | None = None,
    dedupe: bool = False,
    names: Sequence[str] | None = None,
    quiet: bool = True,
    **options: Any,
) -> Clusters:
    """Link three or more encoded files into clusters, one person each (see the module docstring).

    Each file must carry a distinct provider label; all must share the schema and key. ``spine``
    (an index into ``files``) links every other file only with that one. ``options`` are those
    of :func:`~linkage.linker.link.link` (a given ``threshold`` applies to every pair).
    """
    names = list(names) if names is not None else [f"file {k + 1}" for k in range(len(files))]
    if len(files) < 2:
        raise InputError("linking into clusters needs at least two files")
    providers = [f.provider for f in files]
    for f, name in zip(files, names):
        if not f.provider:
            raise InputError(f"{name}: carries no provider label; encode it with --provider NAME")
        if not SAFE_LABEL.match(f.provider):
            raise InputError(f"{name}: its provider label is not a plain name (letters, digits, '_', '.', '-'; "
                             "it names the provider's release file); encode it again with --provider NAME")
    if len(set(providers)) < len(providers):
        dup = next(p for p in providers if providers.count(p) > 1)
        raise InputError(f"two files carry the provider label {dup!r}; each file must come from a distinct "
                         "provider (encode --provider NAME)")
    if len(files) > _MAX_PROVIDERS:
        raise InputError(f"at most {_MAX_PROVIDERS} files can be linked into clusters at once")
    if spine is not None and not 0 <= spine < len(files):
        raise InputError("the spine must be one of the files")
    files = [f.load() if isinstance(f, EncodedFile) else f for f in files]
    for k in range(1, len(files)):
        check_compatible(files[0], files[k], names=(names[0], names[k]))
    pairs_of_files = ([(spine, k) for k in range(len(files)) if k != spine] if spine is not None
                      else list(itertools.combinations(range(len(files)), 2)))
    offsets = np.concatenate([[0], np.cumsum([len(f) for f in files])])
    rows = [pl.DataFrame({"record_id": f.record_ids, "node": np.arange(offsets[k], offsets[k + 1])})
            for k, f in enumerate(files)]
    edges, per_pair, thresholds = [], [], {k: [] for k in range(len(files))}
    estimating = options.get("threshold") is None
    if estimating:  # links down to the floor, so a pair's threshold can be replaced by the pooled one
        options = {**options, "min_score": min(options.get("min_score") or FLOOR, options.get("floor", FLOOR))}
    results = [link(files[x], files[y], names=(names[x], names[y]), quiet=quiet, **options) for x, y in pairs_of_files]
    pooled = pooled_threshold(results) if estimating else None
    for (x, y), res in zip(pairs_of_files, results):
        summary = _pair_summary(res, providers[x], providers[y])
        links = res.links
        if pooled is not None and _uncertain(res) and pooled != res.threshold:
            links, summary = _with_threshold(res, summary, pooled)
        per_pair.append(summary)
        if res.threshold is not None:  # its own: duplicates within a file are sought at the strictest of these
            thresholds[x].append(res.threshold)
            thresholds[y].append(res.threshold)
        edges.append(_edges(links, rows[x], rows[y], providers[x], providers[y], same=False))
    review_width = results[-1].review_width
    blocking = options.get("blocking", BLOCKING)
    blocking = Blocking(method=blocking) if isinstance(blocking, str) else blocking
    duplicates = []
    if dedupe:
        for k, f in enumerate(files):
            if not thresholds[k]:
                continue  # no pair of files showed what a match scores here: no duplicates are sought
            # At least the strictest of the file's pairs: relatives in one file look alike.
            found, info = _self_links(f, max(thresholds[k]), review_width, options.get("top_k") or TOP_K, blocking,
                                      options.get("match_model") or default_match_model(f.schema.fingerprint()))
            duplicates.append({"provider": providers[k], **info, "links": int((found["band"] == MATCH).sum())})
            edges.append(_edges(found, rows[k], rows[k], providers[k], providers[k], same=True))
    pairs = pl.concat(edges, how="vertical") if edges else pl.DataFrame(
        schema={**dict.fromkeys(("provider_a", "id_a", "provider_b", "id_b", "band"), pl.Utf8), "score": pl.Float64,
                "node_a": pl.Int64, "node_b": pl.Int64, "same": pl.Boolean})
    provider_of = np.repeat(np.arange(len(files)), np.diff(offsets))
    match = pairs.filter(pl.col("band") == MATCH)
    # A pair of files whose own scores expect fewer than one match shares nobody (or a person or
    # two): no cluster joins them, so a chain through a third file cannot.
    apart = [(x, y) for (x, y), res in zip(pairs_of_files, results) if _shares_nobody(res)]
    root, used = greedy_clusters(match["node_a"].to_numpy(), match["node_b"].to_numpy(), match["score"].to_numpy(),
                                 provider_of, same=match["same"].to_numpy(), apart=apart)
    clusters = _cluster_table(files, providers, offsets, root, pairs)
    sizes = clusters.group_by("linkage_id").len()["len"]
    summary = {
        "files": [{"provider": p, "records": len(f)} for p, f in zip(providers, files)],
        "spine": providers[spine] if spine is not None else None,
        "dedupe": dedupe,
        "pairs_of_files": per_pair,
        "duplicates": duplicates,
        "apart": [[providers[x], providers[y]] for x, y in apart],
        "clusters": {"clusters": int(len(sizes)), "records": int(sizes.sum()),
                     "by_size": {str(k): int(v) for k, v in sizes.value_counts().sort("len").iter_rows()},
                     "match_links": int(len(match)), "links_used": int(used.sum()),
                     "links_refused": _refused(root, used, match)},
    }
    return Clusters(clusters=clusters, pairs=pairs.select(PAIR_COLUMNS), summary=summary)


def _refused(root: np.ndarray, used: np.ndarray, match: pl.DataFrame) -> int:
    """Match links left out because they would put two records of a provider, or of two files
    kept apart, in one cluster (not those whose records a better path had already joined)."""
    a, b = match["node_a"].to_numpy(), match["node_b"].to_numpy()
    return int(((~used) & (root[a] != root[b])).sum())


def _edges(links: pl.DataFrame, rows_a: pl.DataFrame, rows_b: pl.DataFrame, pa: str, pb: str, *,
           same: bool) -> pl.DataFrame:
    """A pair of files' links (match and possible) with both providers and the records' nodes."""
    keep = links.filter(pl.col("band").is_in([MATCH, POSSIBLE]))
    keep = keep.join(rows_a.rename({"record_id": "id_a", "node": "node_a"}), on="id_a", maintain_order="left")
    keep = keep.join(rows_b.rename({"record_id": "id_b", "node": "node_b"}), on="id_b", maintain_order="left")
    keep = keep.sort(["node_a", "node_b"])  # ties in score: the lower rows first
    return keep.select(pl.lit(pa).alias("provider_a"), "id_a", pl.lit(pb).alias("provider_b"), "id_b", "score",
                       "band", "node_a", "node_b", pl.lit(same).alias("same"))


def _cluster_table(files: Sequence[Encoded], providers: list[str], offsets: np.ndarray, root: np.ndarray,
                   pairs: pl.DataFrame) -> pl.DataFrame:
    """One row per record: its cluster's id, provider, record id, best link score and its band."""
    ids = pl.concat([f.record_ids for f in files])
    provider = np.repeat(np.array(providers, dtype=object), np.diff(offsets))
    # Clusters numbered in order of their first record (a root is its cluster's lowest node).
    roots, number = np.unique(root, return_inverse=True)
    number = number + 1
    width = max(6, len(str(len(roots))))
    best = pl.concat([pairs.select(pl.col("node_a").alias("node"), "score", "band"),
                      pairs.select(pl.col("node_b").alias("node"), "score", "band")])
    best = best.sort(["node", "score"], descending=[False, True]).unique("node", keep="first")
    table = pl.DataFrame({"node": np.arange(len(root)), "linkage_id": [f"L{n:0{width}d}" for n in number],
                          "provider": provider.astype(str), "record_id": ids})
    table = table.join(best.rename({"score": "best_score"}), on="node", how="left")
    return table.sort("node").select(CLUSTER_COLUMNS)


CLUSTER_OUTPUTS = ("clusters.csv", "pairs.csv", "summary.json")


def cluster_outputs(out_dir: str | Path) -> list[Path]:
    """What :func:`link_files_many` writes in ``out_dir``."""
    return [Path(out_dir) / name for name in CLUSTER_OUTPUTS]


def link_files_many(paths: Sequence[str | Path], out_dir: str | Path, *, spine: str | Path | None = None,
                    dedupe: bool = False, force: bool = False, quiet: bool = True,
                    **options: Any) -> tuple[Clusters, list[Path], list[Path]]:
    """Verify and link several encoded files into clusters; write ``clusters.csv``, ``pairs.csv`` and
    ``summary.json`` in ``out_dir``. Returns the clusters, the files written and those replaced."""
    started = time.perf_counter()
    paths = [Path(p) for p in paths]
    if len({p.resolve() for p in paths}) < len(paths):
        raise InputError("a file is given twice; give each provider's file once")
    spine_index = None
    if spine is not None:
        matches = [k for k, p in enumerate(paths) if p.resolve() == Path(spine).resolve()]
        if not matches:
            raise InputError(f"{spine}: the spine must be one of the files being linked")
        spine_index = matches[0]
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir}: exists and is not a folder; linking three or more files writes a folder")
    if not out_dir.parent.is_dir():
        raise InputError(f"{out_dir.parent}: output folder does not exist")
    outputs = cluster_outputs(out_dir)
    # The folder is made only when there is something to write: a failed link leaves nothing behind.
    replaced = check_outputs(outputs, inputs=paths, force=force) if out_dir.is_dir() else []
    files = [read_encoded(p) for p in paths]
    res = link_many(files, spine=spine_index, dedupe=dedupe, names=[str(p) for p in paths], quiet=quiet, **options)
    summary = {"tool_version": __version__,
               "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
               "inputs": [{"file": p.name, "sha256": f.sha256, "provider": f.provider, "records": len(f)}
                          for p, f in zip(paths, files)],
               "schema_fingerprint": files[0].schema.fingerprint(), "key_check": files[0].key_check,
               **res.summary, "seconds": round(time.perf_counter() - started, 3)}
    out_dir.mkdir(exist_ok=True)
    for frame, path in ((res.clusters, outputs[0]), (res.pairs, outputs[1])):
        with atomic_path(path) as tmp:
            write_safe_csv(frame, tmp, float_precision=6)
    with atomic_path(outputs[2]) as tmp:
        tmp.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return dataclasses.replace(res, summary=summary), outputs, replaced
