"""The provider's command line: keygen, encode, inspect, and every bad input."""

import json
import subprocess
import sys

import polars as pl
import pyarrow.parquet as pq
import pytest
from conftest import assert_user_error, raw_values
from conftest import run_cli as run


def write_csv(df, path, **kw):
    df.write_csv(path, **kw)
    return path


@pytest.fixture
def extract(tmp_path, people):
    return write_csv(people, tmp_path / "council.csv")


def test_keygen_writes_0600_and_refuses_overwrite(tmp_path):
    k = tmp_path / "a.key"
    r = run("keygen", k)
    assert r.exit_code == 0 and (k.stat().st_mode & 0o777) == 0o600
    text = k.read_text()
    assert len(text) == 65 and text.endswith("\n") and bytes.fromhex(text)  # 32 bytes as hexadecimal text
    before = k.read_bytes()
    assert_user_error(run("keygen", k), "already exists")
    assert k.read_bytes() == before
    assert text.strip() not in r.output and "never with the linkage unit" in r.stdout


def test_encode_inspect_and_no_leak(tmp_path, extract, key_file, people):
    out = tmp_path / "a.enc.parquet"
    r = run("encode", extract, "--key-file", key_file, "--out", out, "--provider", "council_a", "--quiet")
    assert r.exit_code == 0, r.output
    assert "rows in 6 = encoded 6 + rejected 0 + opted out 0" in r.stdout
    assert out.exists() and (tmp_path / "a.enc.parquet.manifest.json").exists()
    assert (tmp_path / "a.rejects.csv").read_text().startswith("row,line,reason,record_id")
    assert not (tmp_path / "council.rejects.csv").exists()  # beside --out, not beside the input

    # Leak test: every string column and the metadata of the output, the manifest and the output text.
    table = pq.read_table(out)
    strings = [str(v) for c in table.column_names if table.schema.field(c).type == "string"
               for v in table.column(c).to_pylist()]
    meta = table.schema.metadata[b"linkage"].decode()
    manifest = (tmp_path / "a.enc.parquet.manifest.json").read_text()
    haystack = "\n".join(strings) + meta + manifest + r.output
    key = key_file.read_bytes()
    leaks = [v for v in raw_values(people) if v in haystack]
    assert not leaks
    assert key.hex() not in haystack and key.hex() not in out.read_bytes().hex()
    assert json.loads(meta)["provider"] == "council_a"

    r = run("inspect", out)
    assert r.exit_code == 0
    assert "manifest verified" in r.stdout and "council_a" in r.stdout and "records:            6" in r.stdout
    assert not [v for v in raw_values(people) if v in r.output]


def test_encode_reports_rejects_and_opt_outs(tmp_path, people, key_file):
    df = pl.concat([people, pl.DataFrame({
        "record_id": ["p1", "p7", "p8"], "first_name": ["=HYPERLINK(x)", None, "Ann"], "last_name": ["-1", None, "Lee"],
        "date_of_birth": [None, None, "01/01/1990"], "sex": [None, None, "F"], "postcode": [None, "@SUM", "B33 8TH"]})])
    src = write_csv(df, tmp_path / "in.csv")
    opt = tmp_path / "optout.txt"
    opt.write_text("record_id\np8\np3\n")
    rej = tmp_path / "rejects.csv"
    out = tmp_path / "o.enc.parquet"
    r = run("encode", src, "--key-file", key_file, "--out", out, "--rejects", rej, "--opt-out", opt, "-q")
    assert r.exit_code == 0, r.output
    assert "rows in 9 = encoded 4 + rejected 3 + opted out 2" in r.stdout
    rows = pl.read_csv(rej, infer_schema=False)
    assert rows["reason"].to_list() == ["duplicate_record_id", "duplicate_record_id", "too_few_fields"]
    assert rows["row"].to_list() == ["1", "7", "8"]
    # Formula-like cells are escaped for spreadsheets; the opted-out row is nowhere.
    assert "'=HYPERLINK(x)" in rows["first_name"].to_list() and "'-1" in rows["last_name"].to_list()
    assert "'@SUM" in rows["postcode"].to_list()
    assert "Ann" not in rej.read_text() and "Siobh" not in rej.read_text()


def test_bom_other_encodings_and_parquet(tmp_path, people, key_file):
    text = people.write_csv()
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    (tmp_path / "latin.csv").write_bytes(text.replace("Łukasz", "Lukasz").replace("ț", "t").encode("cp1252"))
    people.write_parquet(tmp_path / "x.parquet")
    for name, extra in (("bom.csv", []), ("latin.csv", ["--encoding", "cp1252"]), ("x.parquet", [])):
        out = tmp_path / f"{name}.enc.parquet"
        r = run("encode", tmp_path / name, "--key-file", key_file, "--out", out, "-q", *extra)
        assert r.exit_code == 0, (name, r.output)
        assert "encoded 6" in r.stdout


def test_key_from_environment_variable(tmp_path, extract, key_file):
    env = {"MY_KEY": key_file.read_text().strip()}  # the same hexadecimal text as the key file
    r = run("encode", extract, "--key-env", "MY_KEY", "--out", tmp_path / "e.enc.parquet", "-q", env=env)
    assert r.exit_code == 0, r.output
    r2 = run("encode", extract, "--key-file", key_file, "--out", tmp_path / "f.enc.parquet", "-q", "--force")
    assert r2.exit_code == 0
    clk = [pq.read_table(tmp_path / f"{n}.enc.parquet").column("clk") for n in ("e", "f")]
    assert clk[0] == clk[1]


def no_outputs(tmp_path, *names):
    return not any((tmp_path / n).exists() for n in names) and not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize(
    "case, fragments",
    [
        ("missing_file", ["nothere.csv", "not found"]),
        ("empty_file", ["empty"]),
        ("header_only", ["no data rows"]),
        ("missing_column", ["missing column", "postcode"]),
        ("undecodable", ["row 2 (line 3), column 'first_name'", "not valid utf-8"]),
        ("stray_quote", ["row 2 (line 3)", "quote"]),
        ("unclosed_quote", ["row 4 (line 5)", "quote"]),
        ("workbook", ["spreadsheet workbook (.xlsx)", "CSV UTF-8"]),
        ("workbook_as_csv", ["spreadsheet workbook", "CSV UTF-8"]),
        ("semicolons", ["one column", "'record_id;first_name;last_name;date_of_birth;sex;postcode'",
                        "--delimiter ';'"]),
        ("semicolons_no_header", ["one column", "check it is a header", "--delimiter ';'"]),
        ("bad_delimiter", ["delimiter must be one character"]),
        ("duplicate_column", ["'postcode' more than once"]),
        ("only_blank_lines", ["only blank lines"]),
        ("nested_parquet", ["'postcode'", "not text"]),
        ("header_then_blank_lines", ["no data rows"]),
        ("key_missing", ["key file not found"]),
        ("key_short", ["shorter than 16 bytes"]),
        ("key_readable", ["readable by other users"]),
        ("no_key", ["no key given"]),
        ("bad_schema", ["kind must be one of"]),
    ],
)
def test_bad_input_is_one_line_exit_1_no_output(tmp_path, people, key_file, case, fragments):
    src = tmp_path / "in.csv"
    key = key_file
    args = []
    if case == "missing_file":
        src = tmp_path / "nothere.csv"
    elif case == "empty_file":
        src.write_bytes(b"")
    elif case == "header_only":
        src.write_text("record_id,first_name,last_name,date_of_birth,sex,postcode\n")
    elif case == "missing_column":
        write_csv(people.drop("postcode"), src)
    elif case == "undecodable":
        src.write_bytes(people.write_csv().encode().replace("Łukasz".encode(), b"\xff\xfeLukasz"))
    elif case == "stray_quote":
        src.write_text(people.write_csv().replace("Łukasz", 'Łu"kasz'))
    elif case == "unclosed_quote":
        src.write_text(people.write_csv().replace("John", '"John'))
    elif case == "workbook":
        src = tmp_path / "in.xlsx"
        src.write_bytes(b"PK\x03\x04" + people.write_csv().encode())
    elif case == "workbook_as_csv":
        src.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + people.write_csv().encode())
    elif case == "semicolons":
        write_csv(people, src, separator=";")
    elif case == "semicolons_no_header":
        write_csv(people, src, separator=";", include_header=False)
    elif case == "bad_delimiter":
        write_csv(people, src)
        args = ["--delimiter", "::"]
    elif case == "duplicate_column":
        write_csv(people.with_columns(pl.col("postcode").alias("postcode ")), src)
    elif case == "only_blank_lines":
        src.write_text("\n  \n,,,\n")
    elif case == "nested_parquet":
        src = tmp_path / "in.parquet"
        people.with_columns(pl.concat_list("postcode", "sex").alias("postcode")).write_parquet(src)
    elif case == "header_then_blank_lines":
        src.write_text("record_id,first_name,last_name,date_of_birth,sex,postcode\n\n,,,,,\n\n")
    else:
        write_csv(people, src)
    if case == "key_missing":
        key = tmp_path / "nokey"
    elif case == "key_short":
        key = tmp_path / "short.key"
        key.write_bytes(b"0123456789")
        key.chmod(0o600)
    elif case == "key_readable":
        key_file.chmod(0o644)
    elif case == "bad_schema":
        (tmp_path / "s.toml").write_text('[[fields]]\nname = "x"\nkind = "shoe"\n')
        args = ["--schema", tmp_path / "s.toml"]
    key_args = [] if case == "no_key" else ["--key-file", key]
    r = run("encode", src, *key_args, "--out", tmp_path / "o.enc.parquet", *args, env={"LINKAGE_KEY_FILE": None})
    assert_user_error(r, *fragments)
    assert no_outputs(tmp_path, "o.enc.parquet", "o.enc.parquet.manifest.json", "o.rejects.csv")
    secrets = raw_values(people) | {key_file.read_bytes().hex()}
    assert not [v for v in secrets if v in r.output]


def lk_ids(path):
    return pq.read_table(path).column("record_id").to_pylist()


def extract_text(people, *lines: str) -> str:
    """The people as CSV, then more lines."""
    return people.write_csv() + "".join(ln + "\n" for ln in lines)


def test_rows_counted_as_a_person_counts_them(tmp_path, people, key_file):
    # Blank lines (anywhere, and at the end) are not rows; short and long rows, and record ids a
    # spreadsheet would run as a formula, are rejected with a reason; the rest is encoded.
    text = extract_text(people, "", "p7,Ann,Lee", "p8,Bob,Ray,1990-01-01,M,B33 8TH,Extra,Values",
                        '=p9,Cy,Ho,1980-01-01,F,LS6 2QW', '"p10","Di, Jr",Ng,1970-01-01,F,"M1\n1AE"', "", "")
    src = tmp_path / "in.csv"
    src.write_text(text)
    out = tmp_path / "o.enc.parquet"
    r = run("encode", src, "--key-file", key_file, "--out", out, "-q")
    assert r.exit_code == 0, r.output
    assert "rows in 10 = encoded 7 + rejected 3 + opted out 0" in r.stdout
    assert "blank lines skipped (not rows): 3" in r.stdout
    assert "  short_row 1 (fewer fields than the header)" in r.stdout
    assert "  long_row 1 (" in r.stdout and "  record_id_formula 1 (" in r.stdout
    rejects = pl.read_csv(tmp_path / "o.rejects.csv", infer_schema=False)
    assert rejects.columns[:4] == ["row", "line", "reason", "record_id"]
    assert rejects.select("row", "line", "reason").rows() == [
        ("7", "9", "short_row"), ("8", "10", "long_row"), ("9", "11", "record_id_formula")]
    assert rejects["record_id"].to_list() == ["p7", "p8", "'=p9"]
    assert sorted(lk_ids(out)) == ["p1", "p10", "p2", "p3", "p4", "p5", "p6"]
    assert not [v for v in raw_values(people) | {"Ann", "Lee", "Extra", "Values", "LS6 2QW"} if v in r.output]



def test_summary_says_every_copy_of_a_duplicate_is_rejected(tmp_path, people, key_file):
    src = write_csv(pl.concat([people, people.head(1)]), tmp_path / "in.csv")
    r = run("encode", src, "--key-file", key_file, "--out", tmp_path / "o.enc.parquet", "-q")
    assert r.exit_code == 0, r.output
    assert "rows in 7 = encoded 5 + rejected 2" in r.stdout
    assert "duplicate_record_id 2 (every copy of a duplicated record_id is rejected)" in r.stdout


def test_nothing_to_encode_is_an_error_and_writes_only_the_rejects(tmp_path, people, key_file):
    empty = people.select("record_id", *[pl.lit(None, dtype=pl.Utf8).alias(c) for c in people.columns[1:]])
    src = write_csv(empty, tmp_path / "in.csv")
    out = tmp_path / "o.enc.parquet"
    r = run("encode", src, "--key-file", key_file, "--out", out, "-q")
    assert_user_error(r, "nothing to encode: 6 rows = 6 rejected (too_few_fields 6)", "o.rejects.csv")
    assert not out.exists() and not (tmp_path / "o.enc.parquet.manifest.json").exists()
    assert pl.read_csv(tmp_path / "o.rejects.csv", infer_schema=False)["reason"].to_list() == ["too_few_fields"] * 6
    # Everyone opted out: nothing to encode, and no rejects to write.
    opt = tmp_path / "opt.txt"
    opt.write_text("\n".join(people["record_id"]) + "\n")
    r = run("encode", write_csv(people, tmp_path / "all.csv"), "--key-file", key_file, "--out",
            tmp_path / "b.enc.parquet", "--opt-out", opt, "-q")
    assert_user_error(r, "nothing to encode: 6 rows = 6 opted out")
    assert no_outputs(tmp_path, "b.enc.parquet", "b.rejects.csv")
    assert not [v for v in raw_values(people) if v in r.output]


@pytest.mark.parametrize("separator, option", [(";", ";"), ("\t", "tab"), ("|", "|")])
def test_delimiter_option(tmp_path, people, key_file, separator, option):
    src = write_csv(people, tmp_path / "in.csv", separator=separator)
    out = tmp_path / "o.enc.parquet"
    r = run("encode", src, "--key-file", key_file, "--out", out, "--delimiter", option, "-q")
    assert r.exit_code == 0, r.output
    assert "encoded 6" in r.stdout
    ref = tmp_path / "ref.enc.parquet"
    assert run("encode", write_csv(people, tmp_path / "ref.csv"), "--key-file", key_file, "--out", ref,
               "-q").exit_code == 0
    assert pq.read_table(out).column("clk") == pq.read_table(ref).column("clk")


def test_existing_output_needs_force(tmp_path, extract, key_file):
    out = tmp_path / "o.enc.parquet"
    assert run("encode", extract, "--key-file", key_file, "--out", out, "-q").exit_code == 0
    before = out.read_bytes()
    assert_user_error(run("encode", extract, "--key-file", key_file, "--out", out, "-q"), "already exists", "--force")
    assert out.read_bytes() == before
    assert run("encode", extract, "--key-file", key_file, "--out", out, "-q", "--force").exit_code == 0


def test_same_extract_encoded_twice_with_two_keys_needs_no_force(tmp_path, extract, key_file):
    other = tmp_path / "other.key"
    assert run("keygen", other).exit_code == 0
    for key, name in ((key_file, "for_dwp"), (other, "for_moj")):
        r = run("encode", extract, "--key-file", key, "--out", tmp_path / f"{name}.enc.parquet", "-q")
        assert r.exit_code == 0, r.output
        assert (tmp_path / f"{name}.rejects.csv").exists() and f"{name}.rejects.csv" in r.stdout
    keys = [pq.read_table(tmp_path / f"{n}.enc.parquet").schema.metadata[b"linkage"] for n in ("for_dwp", "for_moj")]
    assert json.loads(keys[0])["key_check"] != json.loads(keys[1])["key_check"]


def test_force_replaces_only_the_outputs_it_names(tmp_path, extract, key_file):
    out = tmp_path / "o.enc.parquet"
    assert run("encode", extract, "--key-file", key_file, "--out", out, "-q").exit_code == 0
    r = run("encode", extract, "--key-file", key_file, "--out", out, "-q", "--force")
    assert r.exit_code == 0
    replaced = next(ln for ln in r.stdout.splitlines() if ln.startswith("replaced (--force):"))
    for name in ("o.enc.parquet", "o.enc.parquet.manifest.json", "o.rejects.csv"):
        assert name in replaced
    key = key_file.read_bytes()
    # Never an input: not the key file, the extract or the schema, even with --force.
    for args in (["--out", key_file], ["--out", out, "--rejects", key_file], ["--out", out, "--rejects", extract],
                 ["--out", extract]):
        assert_user_error(run("encode", extract, "--key-file", key_file, "-q", "--force", *args), "is an input")
    assert key_file.read_bytes() == key and extract.read_text().startswith("record_id")
    assert_user_error(run("encode", extract, "--key-file", key_file, "-q", "--force", "--out", out,
                          "--rejects", out), "two outputs")


def test_progress_shows_unless_quiet(tmp_path, extract, key_file):
    r = run("encode", extract, "--key-file", key_file, "--out", tmp_path / "o.enc.parquet")
    assert "encoding" in r.stderr
    r = run("encode", extract, "--key-file", key_file, "--out", tmp_path / "o.enc.parquet", "--force", "--quiet")
    assert r.stderr == ""


def test_usage_errors_exit_2_and_module_entry_point(tmp_path):
    r = run("encode")
    assert r.exit_code == 2
    p = subprocess.run([sys.executable, "-m", "linkage", "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and "encode" in p.stdout
