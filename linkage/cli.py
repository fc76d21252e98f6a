"""The ``linkage`` command: parse arguments, call the core, print.

Exit 0 on success, 1 on a user error (one line on stderr, no traceback), 2 on bad usage.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from . import __version__
from .errors import InputError, KeyFileError, LinkageError

_DEBUG_ENV = "LINKAGE_DEBUG"


class _Group(click.Group):
    """Turns a LinkageError into one stderr line and exit 1; hides other tracebacks."""

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except LinkageError as e:
            click.echo(f"linkage: error: {e}", err=True)
            ctx.exit(1)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("linkage: interrupted; no output was written", err=True)
            ctx.exit(130)
        except Exception as e:  # a bug: its message may quote data, so show only its type
            if os.environ.get(_DEBUG_ENV):
                raise
            click.echo(
                f"linkage: internal error ({type(e).__name__}); please report it. "
                f"Set {_DEBUG_ENV}=1 to see details (they may show data values).",
                err=True,
            )
            ctx.exit(3)


def _kernels() -> tuple[str, ...]:
    from .score import KERNELS

    return KERNELS


_quiet = click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
_force = click.option("--force", is_flag=True, help="Replace existing output files.")


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="linkage")
def cli() -> None:
    """Privacy-preserving record linkage with keyed Bloom filters.

    Providers run keygen (once, shared securely) and encode; the linkage unit runs link;
    researchers run evaluate. Try `linkage demo`.
    """


@cli.command()
@click.argument("keyfile", type=click.Path(dir_okay=False, path_type=Path))
def keygen(keyfile: Path) -> None:
    """Write a new 32-byte secret key to KEYFILE (mode 0600; never overwrites)."""
    from .keys import write_key

    write_key(keyfile)
    click.echo(f"wrote a new 32-byte key to {keyfile} (mode 0600); share it only with the other providers")


def _load_key(key_file: Path | None, key_env: str | None) -> bytes:
    from .keys import key_from_env, read_key

    if key_file and key_env:
        raise KeyFileError("give either --key-file or --key-env, not both")
    if key_env:
        return key_from_env(key_env)
    if key_file:
        return read_key(key_file)
    raise KeyFileError("no key given: pass --key-file KEYFILE (or --key-env VAR, or set LINKAGE_KEY_FILE)")


def _refuse_existing(paths: list[Path], force: bool) -> None:
    from .store import refuse_existing

    refuse_existing(paths, force)


@cli.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--key-file", type=click.Path(dir_okay=False, path_type=Path), envvar="LINKAGE_KEY_FILE",
              help="File holding the shared secret (from `linkage keygen`). Env: LINKAGE_KEY_FILE.")
@click.option("--key-env", metavar="VAR", help="Name of an environment variable holding the key in hex.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Encoded file to write (*.enc.parquet); a manifest is written beside it.")
@click.option("--schema", "schema_path", type=click.Path(dir_okay=False, path_type=Path),
              help="TOML schema (default: first_name, last_name, date_of_birth, sex, postcode).")
@click.option("--rejects", "rejects_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Rejected rows with reasons (default: INPUT's name + .rejects.csv, beside INPUT).")
@click.option("--opt-out", "opt_out_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Record ids of people who opted out (a record_id column, or one id a line).")
@click.option("--provider", help="Label of this provider, stored in the file (e.g. council_a).")
@click.option("--encoding", default="utf-8", show_default=True, help="Text encoding of a CSV input.")
@_force
@_quiet
def encode(input_path: Path, key_file: Path | None, key_env: str | None, out: Path, schema_path: Path | None,
           rejects_path: Path | None, opt_out_path: Path | None, provider: str | None, encoding: str,
           force: bool, quiet: bool) -> None:
    """Standardise and encode INPUT (CSV or Parquet) into keyed Bloom filters."""
    from .encode import encode_frame, issue_summary
    from .extract import read_extract, read_opt_out, write_rejects
    from .schema import Schema
    from .store import atomic_path, write_encoded

    rejects_path = rejects_path or input_path.with_name(input_path.stem + ".rejects.csv")
    if rejects_path.resolve() == input_path.resolve() or out.resolve() == input_path.resolve():
        raise InputError(f"{input_path}: an output path is the input file; choose another --out or --rejects")
    _refuse_existing([out, out.with_name(out.name + ".manifest.json"), rejects_path], force)
    key = _load_key(key_file, key_env)
    schema = Schema.from_toml(schema_path) if schema_path else Schema.default()
    opt_out = read_opt_out(opt_out_path) if opt_out_path else None
    raw = read_extract(input_path, encoding=encoding)
    enc = encode_frame(raw, schema, key=key, opt_out=opt_out, quiet=quiet)
    with atomic_path(rejects_path) as tmp:
        write_rejects(tmp, raw, enc.rejects)
        write_encoded(enc, out, provider=provider, force=force)
    label = f" ({provider})" if provider else ""
    click.echo(f"{input_path}{label}: {enc.counts.line()}")
    if opt_out is not None:
        click.echo(f"opt-out list: {len(set(opt_out)):,} ids, {enc.counts.opted_out:,} rows left out before encoding")
    problems = issue_summary(enc.field_issues, enc.schema)
    if problems:
        click.echo("field values left out of the encoding (the rows are kept), by reason:")
        for line in problems:
            click.echo(f"  {line}")
    click.echo(f"wrote {out} and {out.name}.manifest.json ({schema.filter_length}-bit filters, {enc.kernel} kernel, "
               f"key check {enc.key_check})")
    click.echo(f"rejects: {rejects_path} ({enc.counts.rejected:,} rows; keep it with the provider, do not send it)")


@cli.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def inspect(path: Path) -> None:
    """Verify an encoded file against its manifest and print its metadata and counts."""
    from .encode import issue_summary
    from .store import read_encoded

    enc = read_encoded(path)
    s = enc.schema
    click.echo(f"file:               {path} (manifest verified: SHA-256 and size match)")
    click.echo(f"provider:           {enc.provider or '-'}")
    click.echo(f"created:            {enc.created or '-'}")
    click.echo(f"records:            {len(enc):,}")
    click.echo(f"counts:             {enc.counts.line()}")
    click.echo(f"filter length:      {s.filter_length} bits")
    click.echo(f"schema fingerprint: {s.fingerprint()}")
    click.echo(f"key check value:    {enc.key_check}")
    pop = enc.popcounts()
    if len(pop):
        click.echo(f"bits set:           mean {pop.mean():.1f} ({pop.mean() / s.filter_length:.1%}), min {pop.min()}, max {pop.max()}")
    click.echo("fields:")
    for f in s.fields:
        q = f", q={f.q}" if f.kind in ("name", "postcode", "text") else ""
        click.echo(f"  {f.name:<16} {f.kind:<9} feature={f.token_feature} weight={f.weight}{q}")
    for line in issue_summary(enc.field_issues, enc.schema):
        click.echo(f"  problems: {line}")


@cli.command()
@click.argument("outdir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--records", default=10_000, show_default=True, type=click.IntRange(min=10), help="Records of provider A.")
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed.")
@_force
def synth(outdir: Path, records: int, seed: int, force: bool) -> None:
    """Write synthetic UK families for two providers with ground truth (a.csv, b.csv, truth.csv)."""
    from .synth import synth_families

    outdir.mkdir(parents=True, exist_ok=True)
    paths = {name: outdir / f"{name}.csv" for name in ("a", "b", "truth")}
    _refuse_existing(list(paths.values()), force)
    data = synth_families(records, seed=seed)
    data.a.write_csv(paths["a"])
    data.b.write_csv(paths["b"])
    data.truth.write_csv(paths["truth"])
    click.echo(
        f"wrote {paths['a']} ({data.a.height:,} records), {paths['b']} ({data.b.height:,}), "
        f"{paths['truth']} ({data.truth.height:,} true pairs); seed {seed}"
    )


def _unit_interval(ctx, param, value):
    if value is not None and not 0.0 <= value <= 1.0:
        raise click.BadParameter("must be between 0 and 1")
    return value


@cli.command()
@click.argument("file_a", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("file_b", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Link table to write: .csv or .parquet (a .summary.json is written beside it).")
@click.option("--threshold", type=float, callback=_unit_interval,
              help="Match threshold on Dice; default: estimated from the data, without labels.")
@click.option("--review-width", default=0.05, show_default=True, type=float, callback=_unit_interval,
              help="Width of the 'possible' band just below the threshold, for clerical review.")
@click.option("--min-score", type=float, callback=_unit_interval,
              help="Also write assigned pairs down to this score (band 'below'), for threshold curves.")
@click.option("--top-k", default=5, show_default=True, type=click.IntRange(min=0),
              help="Candidates kept per record of A (0: every pair above the floor; memory grows with N x M).")
@click.option("--kernel", default="auto", show_default=True, type=click.Choice(["auto", *_kernels()]),
              help="Dice kernel.")
@_force
@_quiet
def link(file_a: Path, file_b: Path, out: Path, threshold: float | None, review_width: float,
         min_score: float | None, top_k: int, kernel: str, force: bool, quiet: bool) -> None:
    """Link two encoded files one-to-one and write pseudonymous links with scores and bands."""
    from .link import link as link_files
    from .store import check_link_table_path, read_encoded, summary_path, write_links

    check_link_table_path(out)
    _refuse_existing([out, summary_path(out)], force)
    a, b = read_encoded(file_a), read_encoded(file_b)
    res = link_files(a, b, threshold=threshold, review_width=review_width, min_score=min_score,
                     top_k=top_k or None, kernel=kernel, quiet=quiet, names=(str(file_a), str(file_b)))
    summary = {"file_a": file_a.name, "file_b": file_b.name, "provider_a": a.provider, "provider_b": b.provider,
               "schema_fingerprint": a.schema.fingerprint(), "key_check": a.key_check, **res.summary()}
    write_links(res.links, out, summary=summary, force=force)
    click.echo(f"scored {res.comparisons:,} pairs with the {res.kernel} kernel; {res.candidates:,} candidate pairs kept")
    if res.fit:
        f = res.fit
        click.echo(f"threshold {res.threshold:.3f} estimated from the data ({f.method}): "
                   f"estimated precision {f.precision:.4f}, recall {f.recall:.4f}, F1 {f.f1:.4f}")
    else:
        click.echo(f"threshold {res.threshold:.3f} (given)")
    bands = res.band_counts()
    counts = ", ".join(f"{bands.get(b, 0):,} {b}" for b in ("match", "possible", "below") if b != "below" or b in bands)
    click.echo(f"wrote {out}: {counts}")


@cli.command()
@click.argument("links_path", metavar="LINKS", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--truth", "truth_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="CSV of true pairs with columns id_a,id_b.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a PNG: quality against threshold and score histograms.")
def evaluate(links_path: Path, truth_path: Path, plot_path: Path | None) -> None:
    """Precision, recall and F1 of LINKS against ground truth."""
    from .evaluate import evaluate as evaluate_links
    from .extract import read_extract
    from .store import read_links, read_summary

    links = read_links(links_path)
    truth = read_extract(truth_path)
    ev = evaluate_links(links, truth)
    summary = read_summary(links_path) or {}
    click.echo(f"quality of the 'match' links in {links_path}:")
    click.echo(ev.table())
    est = summary.get("estimated")
    if est:
        click.echo(f"  estimated at link time (no labels): precision {est['precision']:.4f}, "
                   f"recall {est['recall']:.4f}, F1 {est['f1']:.4f}")
    best = ev.curve.sort(["f1", "threshold"], descending=[True, False]).row(0, named=True)
    click.echo(f"  best threshold in hindsight (labels): {best['threshold']:.3f} with F1 {best['f1']:.4f} "
               f"(over the links in the file)")
    if plot_path:
        from .plots import plot_evaluation

        plot_evaluation(ev, plot_path, threshold=summary.get("threshold"))
        click.echo(f"wrote {plot_path}")


@cli.command()
@click.option("--out", "outdir", default="demo-out", show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the demo's files.")
@click.option("--records", default=10_000, show_default=True, type=click.IntRange(min=10), help="Records of provider A.")
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed of the synthetic data.")
@_force
@_quiet
@click.pass_context
def demo(ctx: click.Context, outdir: Path, records: int, seed: int, force: bool, quiet: bool) -> None:
    """Run the whole path on synthetic families: synth, keygen, encode, link, evaluate."""
    outdir.mkdir(parents=True, exist_ok=True)
    key = outdir / "shared.key"
    if key.exists() and force:
        key.unlink()
    steps = [
        ("1/6 synthetic families for two providers (ground truth kept aside)", synth,
         dict(outdir=outdir, records=records, seed=seed, force=force)),
        ("2/6 shared secret, made once and given to both providers", keygen, dict(keyfile=key)),
    ]
    for name in ("a", "b"):
        steps.append((f"{3 if name == 'a' else 4}/6 provider {name.upper()} encodes its extract", encode, dict(
            input_path=outdir / f"{name}.csv", key_file=key, key_env=None, out=outdir / f"{name}.enc.parquet",
            schema_path=None, rejects_path=outdir / f"{name}.rejects.csv", opt_out_path=None,
            provider=f"provider_{name}", encoding="utf-8", force=force, quiet=quiet)))
    steps.append(("5/6 the linkage unit links the encodings (no identifiers, no key)", link, dict(
        file_a=outdir / "a.enc.parquet", file_b=outdir / "b.enc.parquet", out=outdir / "links.csv", threshold=None,
        review_width=0.05, min_score=0.3, top_k=5, kernel="auto", force=force, quiet=quiet)))
    steps.append(("6/6 a researcher evaluates the links against the ground truth", evaluate, dict(
        links_path=outdir / "links.csv", truth_path=outdir / "truth.csv", plot_path=outdir / "quality.png")))
    for title, command, kwargs in steps:
        click.secho(f"\n== {title}", bold=True)
        ctx.invoke(command, **kwargs)


def main() -> None:
    cli(prog_name="linkage")


if __name__ == "__main__":  # pragma: no cover
    main()
