"""The audit command: how exposed an encoding is to re-identification, measured before data moves."""

from __future__ import annotations

from pathlib import Path

import click

from ..defaults import SEED
from ._shared import echo_replaced, file_path, force_option, quiet_option

__all__ = ["ATTACK_NAMES", "KNOWN", "audit"]

# The names and default of linkage.privacy.ATTACKS and KNOWN, here so `--help` loads no numpy
# (a test checks they agree).
ATTACK_NAMES = ("value", "value_year", "unbalance", "bigram_year", "anchor", "neighbour", "frequency", "pattern",
                "graph")
KNOWN = 0.05


def _known_share(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not 0.0 <= value < 1.0:
        raise click.BadParameter("must be at least 0 and below 1 (a share of the encoded records)")
    return value


@click.command()
@click.argument("enc_path", metavar="ENC.parquet", type=file_path())
@click.option("--plain", "plain_path", required=True, type=file_path(),
              help="Plaintext of the same people (the extract the file was encoded from), joined on record_id: "
                   "the ground truth, used only to measure.")
@click.option("--known", default=KNOWN, show_default=True, type=float, callback=_known_share,
              help="Share of encoded records whose identity the attacker is given; results are measured on "
                   "the others.")
@click.option("--attack", "attacks", multiple=True, type=click.Choice(ATTACK_NAMES),
              help="Attack to run (repeat for several; default: all).")
@click.option("--register", "register_path", type=file_path(),
              help="The attacker's plaintext population (default: the plaintext itself, the worst case); its "
                   "record ids name the encoded records' true people.")
@click.option("--seed", default=SEED, show_default=True, type=int, help="Seed of the known records' draw.")
@click.option("--json", "json_path", type=file_path(), help="Also write the results as JSON.")
@force_option("the JSON file")
@quiet_option
def audit(enc_path: Path, plain_path: Path, known: float, attacks: tuple[str, ...], register_path: Path | None,
          seed: int, json_path: Path | None, force: bool, quiet: bool) -> None:
    """Measure how many people of ENC.parquet re-identification attacks find.

    Each attack plays an attacker at the linkage unit who knows the schema but not the key,
    and holds a register of the population (and, for some attacks, the identity of a share
    of the records). A record is re-identified when an attack's single top-ranked register
    person is its true person. Prints counts and shares only, never a value.
    """
    import json

    from ..format.encoded import read_encoded
    from ..format.files import atomic_path, check_outputs
    from ..privacy import audit as run_audit
    from ..provider.extract import read_extract

    replaced = check_outputs([json_path], inputs=(enc_path, plain_path, register_path), force=force) \
        if json_path else []
    enc = read_encoded(enc_path)
    plain = read_extract(plain_path)
    register = read_extract(register_path) if register_path else None
    report = run_audit(enc, plain, known=known, attacks=list(attacks) or None, register=register, seed=seed,
                       quiet=quiet, plain_name=str(plain_path),
                       register_name=str(register_path) if register_path else "register")
    click.echo(report.table())
    if json_path:
        with atomic_path(json_path) as tmp:
            tmp.write_text(json.dumps(report.to_dict(), indent=2) + "\n")
        echo_replaced(replaced)
        click.echo(f"wrote {json_path}")
