"""Commands for researchers: evaluate, synth, and demo (the whole path on synthetic data)."""

from __future__ import annotations

from pathlib import Path

import click

from ..defaults import CURVE_MIN_SCORE, DEMO_DIR, SEED, SYNTH_MIN_RECORDS, SYNTH_RECORDS
from ._shared import echo_replaced, file_path, force_option, quiet_option, unit_interval

__all__ = ["calibrate", "demo", "evaluate", "synth"]


def _evaluate_and_echo(links_path: Path, truth_path: Path, plot_path: Path | None,
                       encoded: tuple[Path, Path] | None = None) -> None:
    from ..format.links import read_links, read_summary
    from ..provider.extract import read_extract
    from ..research.evaluate import evaluate as evaluate_links

    truth = read_extract(truth_path)
    links = read_links(links_path)
    if "linkage_id" in links.columns:  # clusters from three or more files
        if plot_path or encoded:
            raise click.UsageError("--plot and --encoded are for a link table of two files, not clusters")
        _evaluate_clusters_and_echo(links_path, links, truth)
        return
    ev = evaluate_links(links, truth)
    summary = read_summary(links_path) or {}
    click.echo(f"quality of the 'match' links in {links_path}:")
    click.echo(ev.table())
    _echo_pair_completeness(summary, truth, encoded)
    est = summary.get("estimated")
    if est:
        click.echo(f"  estimated at link time (no labels): precision {est['precision']:.4f}, "
                   f"recall {est['recall']:.4f}, F1 {est['f1']:.4f}")
    best = ev.curve.sort(["f1", "threshold"], descending=[True, False]).row(0, named=True)
    click.echo(f"  best threshold in hindsight (labels): {best['threshold']:.3f} with F1 {best['f1']:.4f} "
               f"(over the links in the file)")
    if plot_path:
        from ..research.plots import plot_evaluation

        plot_evaluation(ev, plot_path, threshold=summary.get("threshold"))
        click.echo(f"wrote {plot_path}")


def _evaluate_clusters_and_echo(path: Path, clusters, truth) -> None:
    import json

    from ..research.evaluate import evaluate_clusters

    ev = evaluate_clusters(clusters, truth)
    try:  # the summary link wrote beside the clusters: each pair of files' estimates
        pairs = json.loads((path.parent / "summary.json").read_text()).get("pairs_of_files", [])
    except (OSError, ValueError, AttributeError):
        pairs = []
    # A pair with no evidence of matches, or a pooled threshold, has no estimate worth showing.
    estimated = {(p["provider_a"], p["provider_b"]): p.get("estimated") for p in pairs
                 if p.get("threshold") is not None and (p.get("estimated") or {}).get("precision") is not None}
    click.echo(f"pairwise quality of the clusters in {path} (pairs of records in one cluster):")
    click.echo(ev.table())
    click.echo("  by pair of providers:")
    for r in ev.by_providers.iter_rows(named=True):
        a, b = r["provider_a"], r["provider_b"]
        est = estimated.get((a, b)) or estimated.get((b, a))
        note = f" (estimated at link time: precision {est['precision']:.4f}, recall {est['recall']:.4f})" if est else ""
        if not r["true"]:  # precision is 0 and recall undefined: say what happened instead
            click.echo(f"    {a} x {b}: no true pairs, but {r['predicted']:,} predicted (all false)")
            continue
        click.echo(f"    {a} x {b}: {r['true']:,} true pairs, {r['predicted']:,} predicted, precision "
                   f"{r['precision']:.4f}, recall {r['recall']:.4f}, F1 {r['f1']:.4f}{note}")


def _echo_pair_completeness(summary: dict, truth, encoded: tuple[Path, Path] | None) -> None:
    """Blocking's candidates and reduction ratio from the summary; pair completeness from the encoded files."""
    blk = summary.get("blocking") or {"method": "none"}
    if blk.get("method", "none") == "none":
        if summary:
            click.echo("  blocking: none (every pair scored): pair completeness 1")
        return
    click.echo(f"  blocking: {blk['method']}, {blk['candidate_pairs']:,} candidate pairs, reduction ratio "
               f"{blk['reduction_ratio']:.4%}")
    if encoded is None:
        click.echo("  pair completeness: pass --encoded A B (the encoded files that were linked) to measure it")
        return
    from ..errors import InputError
    from ..format.encoded import read_encoded
    from ..research.evaluate import pair_completeness

    a, b = read_encoded(encoded[0]), read_encoded(encoded[1])
    inputs = summary.get("inputs", {})
    for enc, side, path in ((a, "a", encoded[0]), (b, "b", encoded[1])):
        want = inputs.get(side, {}).get("sha256")
        if want is not None and enc.sha256 != want:
            raise InputError(f"{path}: is not the file the links were made from as {side.upper()} (its SHA-256 "
                             "differs from the link summary's); give --encoded A B in the order they were linked")
    pc, n = pair_completeness(truth, a, b, blk)
    click.echo(f"  pair completeness: {pc:.4f} of the {n:,} true pairs were candidates")


@click.command()
@click.argument("links_path", metavar="LINKS", type=file_path())
@click.option("--truth", "truth_path", required=True, type=file_path(),
              help="CSV of true pairs with columns id_a,id_b; for clusters (clusters.csv), of records with "
                   "columns provider,record_id,person_id.")
@click.option("--encoded", nargs=2, type=file_path(), metavar="A B",
              help="The encoded files that were linked: measure blocking's pair completeness (share of the true "
                   "pairs that were candidates).")
@click.option("--plot", "plot_path", type=file_path(),
              help="Write a PNG: quality against threshold and score histograms.")
@force_option("the plot")
def evaluate(links_path: Path, truth_path: Path, encoded: tuple[Path, Path] | None, plot_path: Path | None,
             force: bool) -> None:
    """Precision, recall and F1 of LINKS against ground truth (and blocking's pair completeness)."""
    from ..format.files import check_outputs

    replaced = check_outputs([plot_path], inputs=(links_path, truth_path), force=force) if plot_path else []
    _evaluate_and_echo(links_path, truth_path, plot_path, encoded or None)
    echo_replaced(replaced)


def _synth_and_echo(outdir: Path, records: int, seed: int, files: int | None = None, **options):
    """Two providers' extracts (or ``files`` providers'), written to ``outdir`` and named."""
    from ..research.synth import synth_families, synth_files, write_synth, write_synth_files

    if files is None:
        data = synth_families(records, seed=seed, **options)
        paths = write_synth(data, outdir)
        click.echo(f"wrote {paths['a']} ({data.a.height:,} records), {paths['b']} ({data.b.height:,}), "
                   f"{paths['truth']} ({data.truth.height:,} true pairs); seed {seed}")
        return paths
    many = synth_files(records, files=files, seed=seed, **options)
    paths = write_synth_files(many, outdir)
    written = ", ".join(f"{paths[name]} ({frame.height:,} records)" for name, frame in many.extracts.items())
    click.echo(f"wrote {written}, {paths['truth']} ({many.truth['person_id'].n_unique():,} people); seed {seed}")
    return paths


def _programme_and_echo(outdir: Path, cohort: int, seed: int, force: bool, **options) -> dict[str, Path]:
    """A synthetic programme (councils' cohort files, national files, attributes, truth), written and named."""
    from ..format.files import check_outputs
    from ..research.synth import PROGRAMME_PROVIDERS, synth_programme, synth_programme_paths, write_synth_programme

    replaced = check_outputs(synth_programme_paths(outdir, list(PROGRAMME_PROVIDERS)).values(), force=force)
    data = synth_programme(cohort, seed=seed, **options)
    paths = write_synth_programme(data, outdir)
    echo_replaced(replaced)
    for p, frame in data.extracts.items():
        click.echo(f"wrote {paths[p]} ({frame.height:,} records) and {paths[p + '.attributes'].name}")
    click.echo(f"wrote {paths['truth']} ({data.truth['person_id'].n_unique():,} people); seed {seed}")
    return paths


class _LibraryDefault(click.Option):
    """An option that, when absent, is not passed on, so the library's default applies.

    Its help names that default with ``{NAME}`` fields of :mod:`linkage.research.synth`, filled in
    only when the help is shown (``linkage --help`` loads no numpy).
    """

    def get_help_record(self, ctx: click.Context):
        from ..research import synth as library

        record = super().get_help_record(ctx)
        return record and (record[0], record[1].format_map(vars(library)))


def _library_share(name: str, help: str):
    return click.option(name, cls=_LibraryDefault, type=float, callback=unit_interval, help=help)


_records = click.option("--records", default=SYNTH_RECORDS, show_default=True,
                        type=click.IntRange(min=SYNTH_MIN_RECORDS), help="Records of provider A.")
_seed = click.option("--seed", default=SEED, show_default=True, type=int, help="Random seed of the synthetic data.")


@click.command()
@click.argument("outdir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--records", default=SYNTH_RECORDS, show_default=True, type=click.IntRange(min=SYNTH_MIN_RECORDS),
              help="Records of provider A; with --files, about as many in each file.")
@_seed
@_library_share("--overlap", "Share of A's people who are also in B [default: {OVERLAP:g}]; with --files, the chance "
                "that a person in one file is in another [default: {FILES_OVERLAP:g}].")
@click.option("--b-records", cls=_LibraryDefault, type=click.IntRange(min=1),
              help="Records of provider B [default: the matches and about {_OTHER_FRACTION:g} x --records others]. "
                   "Not with --files.")
@_library_share("--relatives", "Share of B's non-matches who live with one of A's people (as many as there are, "
                "if fewer); with --files, share of the people who live with another person in the files "
                "[default: {RELATIVES:.3g}].")
@click.option("--files", metavar="K", type=click.IntRange(min=2),
              help="Write K providers' extracts of one population, p1.csv .. pK.csv, and truth.csv "
                   "(provider, record_id, person_id) instead of a.csv, b.csv and truth.csv (id_a, id_b).")
@_library_share("--duplicates", "With --files: share of a file's people who appear in it twice "
                "[default: {DUPLICATES:g}].")
@click.option("--programme", is_flag=True,
              help="Write a programme instead: three councils' cohort files (--records people in families) and "
                   "national benefits (dwp), offending (moj) and school (dfe) files, each with its attributes "
                   "(<provider>.attributes.csv), and truth.csv (provider, record_id, person_id).")
@force_option("a.csv, b.csv and truth.csv in OUTDIR (with --files K: p1.csv .. pK.csv and truth.csv; with "
              "--programme: each provider's .csv and .attributes.csv and truth.csv)")
def synth(outdir: Path, records: int, seed: int, overlap: float | None, b_records: int | None,
          relatives: float | None, files: int | None, duplicates: float | None, programme: bool,
          force: bool) -> None:
    """Write synthetic UK families for two providers with ground truth (a.csv, b.csv, truth.csv), or K (--files)."""
    from ..format.files import check_outputs
    from ..research.synth import synth_files_paths, synth_paths

    if programme:
        if files is not None or b_records is not None or overlap is not None or relatives is not None:
            raise click.UsageError("--programme sets its own files, overlaps and relatives; give --records "
                                   "(the cohort), --seed and --duplicates only")
        outdir.mkdir(parents=True, exist_ok=True)
        _programme_and_echo(outdir, records, seed, force,
                            **({"duplicates": duplicates} if duplicates is not None else {}))
        return

    if files is None and duplicates is not None:
        raise click.UsageError("--duplicates needs --files: two-file extracts have no duplicates")
    if files is not None and b_records is not None:
        raise click.UsageError("--b-records is for two files; with --files, --records sets each file's size")
    given = {"overlap": overlap, "b_records": b_records, "relatives": relatives, "duplicates": duplicates}
    options = {name: value for name, value in given.items() if value is not None}
    outdir.mkdir(parents=True, exist_ok=True)
    paths = synth_paths(outdir) if files is None else synth_files_paths(outdir, files)
    replaced = check_outputs(paths.values(), force=force)
    try:
        _synth_and_echo(outdir, records, seed, files, **options)
    except ValueError as e:  # the only one an argument can still cause: more matches drawn than --b-records
        if b_records is None:
            raise
        raise click.BadParameter(str(e), param_hint="'--b-records'") from None
    echo_replaced(replaced)


@click.command()
@click.option("--schema", "schema_path", type=file_path(), help="TOML schema (default: the default schema).")
@click.option("--out", "out", required=True, type=file_path(),
              help="Match-score model to write (JSON), for `linkage link --match-model`.")
@click.option("--records", cls=_LibraryDefault, type=click.IntRange(min=100),
              help="Synthetic true pairs to score [default: {CALIBRATION_RECORDS:,}].")
@_seed
@force_option("the model file")
def calibrate(schema_path: Path | None, out: Path, records: int | None, seed: int, force: bool) -> None:
    """Learn how a schema's match scores fall with errors, from synthetic people (no real data, no key)."""
    from ..format.files import check_outputs
    from ..research.calibrate import calibrate as calibrate_schema
    from ..research.calibrate import write_match_model
    from ..schema import Schema

    replaced = check_outputs([out], inputs=(schema_path,), force=force)
    s = Schema.from_toml(schema_path) if schema_path else Schema.default()
    model = calibrate_schema(s, seed=seed, **({"records": records} if records else {}))
    write_match_model(model, out, force=force)
    echo_replaced(replaced)
    click.echo(f"wrote {out}: {model.source} (schema fingerprint {s.fingerprint()[:16]}...); "
               f"use it with `linkage link --match-model {out}`")


@click.command()
@click.option("--out", "outdir", default=DEMO_DIR, show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the demo's files.")
@_records
@_seed
@click.option("--programme", is_flag=True,
              help="Run a programme instead: three councils and three national files (a cohort of --records / 4 "
                   "people) encoded, linked into clusters, evaluated, released and attached.")
@force_option("the files of an earlier demo in OUT (named as they are removed)")
@quiet_option
def demo(outdir: Path, records: int, seed: int, programme: bool, force: bool, quiet: bool) -> None:
    """Run the whole path on synthetic families: synth, keygen, encode, link, evaluate."""
    if programme:
        _programme_demo(outdir, max(records // 4, SYNTH_MIN_RECORDS), seed, force, quiet)
        return
    from ..format.encoded import manifest_path
    from ..format.files import check_outputs
    from ..format.links import link_table_outputs
    from ..linker.link import link_files
    from ..provider.extract import default_rejects_path
    from ..provider.keys import generate_key, write_key
    from ..provider.pipeline import encode_file
    from ..research.synth import synth_paths
    from .linker import echo_link_run
    from .provider import echo_encode_run

    outdir.mkdir(parents=True, exist_ok=True)
    key_path, links, plot = outdir / "shared.key", outdir / "links.csv", outdir / "quality.png"
    encoded = {name: outdir / f"{name}.enc.parquet" for name in ("a", "b")}
    per_provider = [p for e in encoded.values() for p in (e, manifest_path(e), default_rejects_path(e))]
    outputs = [*synth_paths(outdir).values(), key_path, *per_provider, *link_table_outputs(links), plot]
    old = check_outputs(outputs, force=force)
    if old:
        click.echo(f"removing {len(old)} files of an earlier demo (--force): {', '.join(p.name for p in old)}")
        for p in old:
            p.unlink()

    def step(title: str) -> None:
        click.secho(f"\n== {title}", bold=True)

    step("1/6 synthetic families for two providers (ground truth kept aside)")
    extracts = _synth_and_echo(outdir, records, seed)
    step("2/6 shared secret, made once and given to both providers")
    key = generate_key()
    write_key(key_path, key)
    click.echo(f"wrote a new key to {key_path} (mode 0600)")
    for n, name in enumerate(encoded, 3):
        step(f"{n}/6 provider {name.upper()} encodes its extract")
        run = encode_file(extracts[name], encoded[name], key=key, provider=f"provider_{name}", quiet=quiet)
        echo_encode_run(run, extracts[name], f"provider_{name}")
    step("5/6 the linkage unit links the encodings (no identifiers, no key)")
    echo_link_run(link_files(encoded["a"], encoded["b"], links, quiet=quiet, min_score=CURVE_MIN_SCORE))
    step("6/6 a researcher evaluates the links against the ground truth")
    _evaluate_and_echo(links, extracts["truth"], plot)


def _programme_demo(outdir: Path, cohort: int, seed: int, force: bool, quiet: bool) -> None:
    """`demo --programme`: councils and national files, encoded, clustered, evaluated, released, attached."""
    import shutil

    from ..errors import InputError
    from ..format.files import atomic_path, write_safe_csv
    from ..linker.cluster import link_files_many
    from ..linker.release import release_files
    from ..provider.attach import attach
    from ..provider.extract import read_extract
    from ..provider.keys import generate_key, write_key
    from ..provider.pipeline import encode_file
    from ..research.synth import PROGRAMME_PROVIDERS
    from .linker import echo_clusters
    from .provider import echo_encode_run

    outdir.mkdir(parents=True, exist_ok=True)
    folders = [outdir / x for x in ("providers", "encoded", "linked", "release", "attributes")]
    old = [f for f in (*folders, outdir / "shared.key") if f.exists()]
    if old and not force:
        raise InputError(f"{outdir}: holds an earlier programme demo; use --force to replace it")
    for f in old:
        click.echo(f"removing {f} of an earlier demo (--force)")
        shutil.rmtree(f) if f.is_dir() else f.unlink()
    providers, encoded_dir, linked, released, attributes = folders

    def step(title: str) -> None:
        click.secho(f"\n== {title}", bold=True)

    step("1/6 a synthetic programme: three councils' cohort files and national files (truth kept aside)")
    providers.mkdir()
    paths = _programme_and_echo(providers, cohort, seed, force=False)
    step("2/6 each provider encodes its extract with the shared key")
    key = generate_key()
    write_key(outdir / "shared.key", key)
    encoded_dir.mkdir()
    encoded = []
    for p in PROGRAMME_PROVIDERS:
        encoded.append(encoded_dir / f"{p}.enc.parquet")
        echo_encode_run(encode_file(paths[p], encoded[-1], key=key, provider=p, quiet=quiet), paths[p], p)
    step("3/6 the linkage unit links every pair of files into clusters, one person each")
    res, written, replaced = link_files_many(encoded, linked, dedupe=True, quiet=quiet)
    echo_clusters(res, written, replaced)
    step("4/6 a researcher evaluates the clusters against the ground truth")
    _evaluate_clusters_and_echo(linked / "clusters.csv", res.clusters, read_extract(paths["truth"]))
    step("5/6 the linkage unit releases each provider's own ids with fresh linkage ids")
    _, written, _ = release_files(linked, released)
    click.echo(f"wrote {', '.join(p.name for p in written)} in {released}")
    step("6/6 each provider attaches linkage ids to its attributes (no identifiers) for the researchers")
    attributes.mkdir()
    for p in PROGRAMME_PROVIDERS:
        got = attach(read_extract(released / f"{p}.csv"), read_extract(paths[f"{p}.attributes"]),
                     names=(str(released / f"{p}.csv"), str(paths[f"{p}.attributes"])))
        with atomic_path(attributes / f"{p}.csv") as tmp:
            write_safe_csv(got.frame, tmp, keep_numbers=True)
        click.echo(f"{p}: {got.line()}")
    click.echo(f"wrote {attributes}: join them on linkage_id with linkage.assemble, hide small cells with "
               "linkage.suppress (see notebooks/national_evaluation.ipynb)")
