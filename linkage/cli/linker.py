"""Commands run at the linkage unit: link."""

from __future__ import annotations

from pathlib import Path

import click

from ..defaults import BLOCK_ABOVE, BLOCKING, BLOCKINGS, FLOOR, KERNEL, KERNELS, REVIEW_WIDTH, TOP_K
from ._shared import echo_replaced, file_path, force_option, quiet_option, unit_interval

__all__ = ["echo_clusters", "echo_link_run", "link", "release"]


def _interval(est: float, interval: tuple[float, float]) -> str:
    return f"{est:.4f} ({interval[0]:.3f}-{interval[1]:.3f})"


def echo_link_run(run) -> None:
    """What `link` prints: comparisons, the threshold and how it was chosen, the bands."""
    res = run.result
    blk = res.blocking
    if blk is not None and blk["method"] == "none":
        for note in blk.get("notes", []):
            click.echo(f"linkage: {note}")
    elif blk is not None:
        chosen = " (auto: A x B is large)" if blk["chosen_by"] == "auto" else ""
        how = (f"the providers' blocking keys ({', '.join(blk['keys'])})" if blk["method"] == "keys"
               else f"LSH, {blk['bands']} bands of {blk['bits_per_band']} bits,")
        click.echo(f"blocked by {how}{chosen}: {blk['candidate_pairs']:,} candidate pairs (reduction ratio "
                   f"{blk['reduction_ratio']:.4%}); {blk['sample_records']:,} records of A were also scored "
                   "against all of B")
        if blk.get("estimated_completeness") is not None:
            click.echo(f"blocking found about {blk['estimated_completeness']:.2%} of the sample's matches")
        for note in blk.get("notes", []):
            click.echo(f"linkage: warning: {note}", err=True)
    engine = res.engine or {}
    where = (f" on Dask ({engine['workers']} workers, {engine['scheduler']} scheduler)"
             if engine.get("engine") == "dask" else "")
    click.echo(f"scored {res.comparisons:,} pairs with the {res.kernel} kernel{where}; "
               f"{res.candidates:,} candidate pairs kept")
    f = res.fit
    if f is not None and not f.evidence:
        a, b = (Path(str(run.summary.get(k, "?"))).name for k in ("file_a", "file_b"))
        click.echo(f"no evidence of matches between {a} and {b}; nothing is linked as a match "
                   "(pass --threshold to link anyway)")
    elif f is not None:
        click.echo(f"threshold {res.threshold:.3f} estimated from the data ({f.method}): "
                   f"estimated precision {_interval(f.precision, f.precision_interval)}, "
                   f"recall {_interval(f.recall, f.recall_interval)}, F1 {f.f1:.4f} (95% intervals)")
        for warning in f.warnings:
            click.echo(f"linkage: warning: {warning}", err=True)
    else:
        click.echo(f"threshold {res.threshold:.3f} (given)")
    bands = res.band_counts()
    counts = ", ".join(f"{bands.get(b, 0):,} {b}" for b in ("match", "possible", "below") if b != "below" or b in bands)
    echo_replaced(run.replaced)
    peak = run.summary.get("peak_memory_bytes")
    took = f" in {run.summary['seconds']:,.1f} s" if "seconds" in run.summary else ""
    click.echo(f"wrote {run.out}: {counts}{took}" + (f", peak memory {peak / 2**30:.2f} GiB" if peak else ""))
    if run.review is not None:
        click.echo(f"wrote {run.review}: the {bands.get('possible', 0):,} possible links with the other candidates "
                   "of both records, for clerical review at the providers")


@click.command()
@click.argument("files", nargs=-1, required=True, type=file_path(), metavar="A B [C ...]")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path),
              help="Two files: the link table to write, .csv or .parquet (a .summary.json is written beside it). "
                   "Three or more: a folder for clusters.csv, pairs.csv and summary.json.")
@click.option("--spine", type=file_path(),
              help="Three or more files: link each other file only with this one (a star), not every pair.")
@click.option("--dedupe", is_flag=True,
              help="Three or more files: also link each file with itself, so a provider's duplicates may join one "
                   "cluster.")
@click.option("--threshold", type=float, callback=unit_interval,
              help="Match threshold on Dice; default: estimated from the data, without labels.")
@click.option("--review-width", default=REVIEW_WIDTH, show_default=True, type=float, callback=unit_interval,
              help="Width of the 'possible' band just below the threshold, for clerical review.")
@click.option("--min-score", type=float, callback=unit_interval,
              help="Also write assigned pairs down to this score (band 'below'), for threshold curves; "
                   "it may be below --floor.")
@click.option("--floor", default=FLOOR, show_default=True, type=float, callback=unit_interval,
              help="Lowest score the threshold estimate looks at; it must sit below any sensible threshold.")
@click.option("--match-model", type=file_path(),
              help="Match-score model for the estimate: from `linkage calibrate`, or the summary of an earlier "
                   "link with many matches (default: the packaged one for the default schema).")
@click.option("--review", "review_path", type=file_path(),
              help="Also write each possible link with the other candidates of both records (CSV or Parquet).")
@click.option("--top-k", default=TOP_K, show_default=True, type=click.IntRange(min=0),
              help="Candidates kept per record of A (0: every pair above the floor; memory grows with N x M).")
@click.option("--kernel", default=KERNEL, show_default=True, type=click.Choice([KERNEL, *KERNELS]),
              help="Dice kernel.")
@click.option("--blocking", default=BLOCKING, show_default=True, type=click.Choice(BLOCKINGS),
              help=f"Score only candidate pairs from locality-sensitive hashing of the filters (lsh) or sharing a "
                   f"provider's blocking key (keys), every pair (none), or from {BLOCK_ABOVE:.0e} pairs keys if "
                   "both files carry them, else lsh if it pays (auto).")
@click.option("--workers", type=click.IntRange(min=1),
              help="Score parts of B as tasks on a local Dask cluster of this many worker processes "
                   "(needs the dask extra: pip install 'linkage[dask]').")
@click.option("--worker-threads", type=click.IntRange(min=1),
              help="Threads of each local Dask worker (default: the cores shared among the workers).")
@click.option("--scheduler", metavar="ADDRESS",
              help="Score parts of B on the Dask cluster at this scheduler address (tcp://host:8786); "
                   "B must be at the same path on every worker.")
@force_option("the link table, its summary and the review list")
@quiet_option
def link(files: tuple[Path, ...], out: Path, spine: Path | None, dedupe: bool, threshold: float | None,
         review_width: float,
         min_score: float | None, floor: float, match_model: Path | None, review_path: Path | None, top_k: int,
         kernel: str, blocking: str, workers: int | None, worker_threads: int | None, scheduler: str | None,
         force: bool, quiet: bool) -> None:
    """Link encoded files and write pseudonymous links with scores and bands.

    Two files are linked one-to-one into a link table; B is read a part at a time (memory
    grows with A and one part): put the larger file, a national one, second. Three or more
    files (each from a distinct provider) are linked pair by pair and joined into clusters,
    one person each, with at most one record from each provider.
    """
    from ..linker.distribute import Cluster

    if len(files) < 2:
        raise click.UsageError("give two encoded files, or three or more to cluster")
    options = {"match_model": match_model, "force": force, "quiet": quiet, "threshold": threshold,
               "review_width": review_width, "min_score": min_score, "floor": floor, "top_k": top_k,
               "kernel": kernel, "blocking": blocking,
               "cluster": Cluster(workers=workers, scheduler=scheduler, threads=worker_threads)}
    if len(files) == 2 and spine is None and not dedupe:
        from ..linker.link import link_files

        echo_link_run(link_files(files[0], files[1], out, review=review_path, **options))
        return
    if review_path is not None:
        raise click.UsageError("--review is for two files; with three or more, pairs.csv lists the possible links")
    from ..linker.cluster import link_files_many
    from ..linker.link import read_match_model

    if options["match_model"] is not None:
        options["match_model"] = read_match_model(options["match_model"])
    res, written, replaced = link_files_many(files, out, spine=spine, dedupe=dedupe, **options)
    echo_clusters(res, written, replaced)


def echo_clusters(res, written, replaced) -> None:
    """What `link` prints for three or more files: each pair's threshold and estimates, the clusters."""
    for p in res.summary["pairs_of_files"]:
        est = p.get("estimated")
        if p["threshold"] is None:
            how = "no evidence of matches: nothing linked, and no cluster will hold records of both"
        elif p["threshold_source"] == "pooled":
            how = (f"threshold {p['threshold']:.3f} (pooled from the pairs with certain estimates; its own, "
                   f"{p['own_threshold']:.3f}, rests on too few matches), quality not estimated")
        else:
            how = f"threshold {p['threshold']:.3f} ({p['threshold_source']})"
            if est:
                how += f", estimated precision {est['precision']:.3f}, recall {est['recall']:.3f}"
        click.echo(f"{p['provider_a']} x {p['provider_b']}: {how}; {p['bands'].get('match', 0):,} match links")
        for warning in (est or {}).get("warnings", []):
            click.echo(f"linkage: warning: {p['provider_a']} x {p['provider_b']}: {warning}", err=True)
    for d in res.summary["duplicates"]:
        how = f"{d['comparisons']:,} pairs compared" + (" (sharing a blocking key)" if d["blocking"] == "keys" else "")
        if d["threshold"] is None:
            click.echo(f"{d['provider']} with itself: no evidence of duplicates, none linked ({how})")
        else:
            click.echo(f"{d['provider']} with itself: threshold {d['threshold']:.3f}; {d['links']:,} duplicate links "
                       f"({how})")
    c = res.summary["clusters"]
    sizes = ", ".join(f"{n:,} of {k}" for k, n in c["by_size"].items())
    click.echo(f"{c['records']:,} records in {c['clusters']:,} clusters ({sizes}); {c['links_refused']:,} match links "
               "left out: they would put two records of one provider, or of two files that share nobody, in a "
               "cluster")
    echo_replaced(replaced)
    click.echo(f"wrote {', '.join(str(p) for p in written)}")


@click.command()
@click.argument("clusters_path", metavar="DIR", type=click.Path(path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write: <provider>.csv for each provider (record_id, linkage_id) and release.json.")
@force_option("the release files")
def release(clusters_path: Path, out: Path, force: bool) -> None:
    """Give each provider its own record ids with fresh random linkage ids (the separation principle)."""
    from ..linker.release import release_files

    rel, written, replaced = release_files(clusters_path, out, force=force)
    echo_replaced(replaced)
    for provider, n in rel.counts().items():
        click.echo(f"{provider}: {n:,} records")
    click.echo(f"wrote {', '.join(str(p) for p in written)}: linkage ids fresh for this release; send each provider "
               "only its own file")
