"""Commands run at a data provider: keygen, schema, encode; and inspect, run on either side."""

from __future__ import annotations

from pathlib import Path

import click

from ..defaults import DELIMITER, KEY_BYTES, TEXT_ENCODING
from ._shared import echo_replaced, file_path, force_option, load_key, quiet_option

__all__ = ["attach", "echo_encode_run", "encode", "inspect", "keygen", "schema"]


@click.command()
@click.argument("keyfile", type=file_path())
def keygen(keyfile: Path) -> None:
    """Write a new secret key to KEYFILE (mode 0600; never overwrites)."""
    from ..provider.keys import SHARE_ADVICE, write_key

    write_key(keyfile)
    click.echo(f"wrote a new {KEY_BYTES}-byte key to {keyfile} as hexadecimal text (mode 0600)")
    click.echo(f"{SHARE_ADVICE[0].upper()}{SHARE_ADVICE[1:]}.")


@click.command()
@click.argument("schema_path", metavar="[FILE.toml]", required=False, type=file_path())
def schema(schema_path: Path | None) -> None:
    """Print the default schema as TOML, or validate FILE.toml and print it resolved.

    The output has every default filled in and the schema's fingerprint; it is itself a
    valid schema file.
    """
    from ..schema import Schema

    s = Schema.from_toml(schema_path) if schema_path else Schema.default()
    click.echo(s.to_toml(), nl=False)


def echo_encode_run(run, input_path: Path, provider: str | None) -> None:
    """What `encode` prints: the accounting line, rejects and field problems, the files written."""
    from ..provider.encode import REJECT_REASONS

    enc = run.encoded
    label = f" ({provider})" if provider else ""
    click.echo(f"{input_path}{label}: {enc.counts.line()}")
    blank = run.blank_lines
    if blank:
        click.echo(f"blank lines skipped (not rows): {blank:,}")
    if run.opt_out_ids is not None:
        click.echo(f"opt-out list: {run.opt_out_ids:,} ids, {enc.counts.opted_out:,} rows left out before encoding")
    reasons = run.reject_reasons
    if reasons:
        click.echo("rows rejected, by reason (each listed with its row and line in the rejects file):")
        for reason, n in reasons.items():
            note = REJECT_REASONS.get(reason)
            click.echo(f"  {reason} {n:,}" + (f" ({note})" if note else ""))
    problems = enc.issue_lines()
    if problems:
        click.echo("field values left out of the encoding (the rows are kept), by reason:")
        for line in problems:
            click.echo(f"  {line}")
    echo_replaced(run.replaced)
    click.echo(f"wrote {run.out} and {run.manifest.name} ({enc.schema.output_length}-bit filters, {enc.kernel} kernel, "
               f"key check {enc.key_check})")
    click.echo(f"rejects: {run.rejects} ({enc.counts.rejected:,} rows; keep it with the provider, do not send it)")


@click.command()
@click.argument("input_path", metavar="INPUT", type=file_path())
@click.option("--key-file", type=file_path(), envvar="LINKAGE_KEY_FILE",
              help="File holding the shared secret (from `linkage keygen`). Env: LINKAGE_KEY_FILE.")
@click.option("--key-env", metavar="VAR", help="Name of an environment variable holding the key in hex.")
@click.option("--out", "out", required=True, type=file_path(),
              help="Encoded file to write (OUT.enc.parquet); its manifest is written beside it.")
@click.option("--schema", "schema_path", type=file_path(),
              help="TOML schema (default: `linkage schema` prints it).")
@click.option("--rejects", "rejects_path", type=file_path(),
              help="Rejected rows with reasons (default: OUT.rejects.csv, beside --out).")
@click.option("--opt-out", "opt_out_path", type=file_path(),
              help="Record ids of people who opted out (a record_id column, or one id a line).")
@click.option("--provider", help="Label of this provider, stored in the file (e.g. council_a).")
@click.option("--encoding", default=TEXT_ENCODING, show_default=True, help="Text encoding of a CSV input.")
@click.option("--delimiter", default=DELIMITER, show_default=True, metavar="CHAR",
              help="Field separator of a CSV input: one character such as ';' or '|', or 'tab'.")
@force_option("the encoded file, its manifest and the rejects file")
@quiet_option
def encode(input_path: Path, key_file: Path | None, key_env: str | None, out: Path, schema_path: Path | None,
           rejects_path: Path | None, opt_out_path: Path | None, provider: str | None, encoding: str,
           delimiter: str, force: bool, quiet: bool) -> None:
    """Standardise and encode INPUT (CSV or Parquet) into keyed Bloom filters.

    Blank lines are not rows. Rows with fewer or more fields than the header, or without a
    usable record_id, are rejected with a reason to the rejects file; if no row is left to
    encode, only the rejects are written and the command fails.
    """
    from ..provider.pipeline import encode_file
    from ..schema import Schema

    if delimiter.lower() in ("tab", "\\t"):
        delimiter = "\t"
    key = load_key(key_file, key_env)
    s = Schema.from_toml(schema_path) if schema_path else None
    run = encode_file(input_path, out, key=key, schema=s, rejects=rejects_path, opt_out=opt_out_path,
                      provider=provider, encoding=encoding, delimiter=delimiter, force=force, quiet=quiet,
                      protect=(key_file, schema_path))
    echo_encode_run(run, input_path, provider)


@click.command()
@click.argument("path", type=file_path())
def inspect(path: Path) -> None:
    """Verify an encoded file against its manifest and print its metadata, hardening and counts."""
    from ..format.encoded import read_encoded

    enc = read_encoded(path)
    s = enc.schema
    click.echo(f"file:               {path} (manifest verified: SHA-256 and size match)")
    click.echo(f"provider:           {enc.provider or '-'}")
    click.echo(f"created:            {enc.created or '-'}")
    click.echo(f"records:            {len(enc):,}")
    click.echo(f"counts:             {enc.counts.line()}")
    click.echo(f"filter length:      {s.filter_length} bits")
    if s.hardening.is_set:
        click.echo(f"output length:      {s.output_length} bits, after hardening:")
        for line in s.hardening.describe():
            click.echo(f"  {line}")
    else:
        click.echo("hardening:          none")
    click.echo(f"schema fingerprint: {s.fingerprint()}")
    click.echo(f"key check value:    {enc.key_check}")
    pop = enc.popcounts()
    if len(pop):
        click.echo(f"bits set:           mean {pop.mean():.1f} ({pop.mean() / s.output_length:.1%}), "
                   f"min {pop.min()}, max {pop.max()}")
    click.echo("fields:")
    for f in s.fields:
        settings = " ".join(f"{k}={v}" for k, v in f.to_dict().items() if k != "kind")
        click.echo(f"  {f.name:<16} {f.kind:<9} {settings}")
    for line in enc.issue_lines():
        click.echo(f"  problems: {line}")


@click.command()
@click.argument("release_path", metavar="RELEASE.csv", type=file_path())
@click.argument("attributes_path", metavar="ATTRIBUTES", type=file_path())
@click.option("--out", "out", required=True, type=file_path(),
              help="Attribute file to write for the researchers (.parquet or .csv): linkage_id in place of record_id.")
@click.option("--schema", "schema_path", type=file_path(),
              help="TOML schema whose linkage fields must not be attached (default: the default schema).")
@force_option("the attribute file written")
def attach(release_path: Path, attributes_path: Path, out: Path, schema_path: Path | None, force: bool) -> None:
    """Swap record_id for the released linkage_id in an attribute file; refuse identifier columns."""
    from ..format.files import atomic_path, check_outputs, write_safe_csv
    from ..provider.attach import attach as attach_ids
    from ..provider.extract import read_extract
    from ..schema import Schema

    if out.suffix.lower() not in (".parquet", ".csv"):
        raise click.UsageError("--out must end in .parquet or .csv")
    replaced = check_outputs([out], inputs=(release_path, attributes_path, schema_path), force=force)
    schema = Schema.from_toml(schema_path) if schema_path else None
    res = attach_ids(read_extract(release_path), read_extract(attributes_path), schema=schema,
                     names=(str(release_path), str(attributes_path)))
    with atomic_path(out) as tmp:
        if out.suffix.lower() == ".parquet":
            res.frame.write_parquet(tmp)
        else:
            write_safe_csv(res.frame, tmp, keep_numbers=True)
    echo_replaced(replaced)
    click.echo(res.line())
    click.echo(f"wrote {out}: {res.attached:,} rows with linkage_id, no record id")
