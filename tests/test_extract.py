"""Reading extracts and opt-out lists: rows as a person counts them, lines, and every bad file."""

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkage.errors import InputError
from linkage.provider.extract import (
    LONG_ROW,
    SHORT_ROW,
    check_delimiter,
    read_extract,
    read_extract_rows,
    read_opt_out,
    write_rejects,
)

HEADER = b"record_id,first_name,last_name\n"


def write(tmp_path, data: bytes, name="in.csv"):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def error_of(fn, *args, **kw) -> str:
    with pytest.raises(InputError) as e:
        fn(*args, **kw)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_blank_lines_are_not_rows_wherever_they_are(tmp_path):
    p = write(tmp_path, b"\n" + HEADER + b"p1,Ann,Lee\n\n  \n,,\np2,Bob,Ray\r\n\r\n\n")
    ext = read_extract_rows(p)
    assert ext.frame.rows() == [("p1", "Ann", "Lee"), ("p2", "Bob", "Ray")]
    assert ext.lines.tolist() == [3, 7]  # the file line where each row starts
    assert ext.blank_lines == 6  # lines 1, 4, 5 (spaces), 6 (delimiters only), 8 (CR) and 9; not the end
    assert ext.row_problems is None
    assert ext.where(2) == "row 2 (line 7)"
    assert read_extract(p).height == 2


def test_a_trailing_blank_line_is_not_a_row(tmp_path):
    ext = read_extract_rows(write(tmp_path, HEADER + b"p1,Ann,Lee\n\n"))
    assert ext.frame.height == 1 and ext.blank_lines == 1


def test_short_and_long_rows_are_kept_and_named(tmp_path):
    p = write(tmp_path, HEADER + b"p1,Ann\np2,Bob,Ray\np3,,\np4,Cy,Ho,extra,more\n\np5,Di,Ng\n")
    ext = read_extract_rows(p)
    assert ext.frame["record_id"].to_list() == ["p1", "p2", "p3", "p4", "p5"]
    assert ext.fields.tolist() == [2, 3, 3, 5, 3] and ext.width == 3
    assert ext.row_problems.to_list() == [SHORT_ROW, None, None, LONG_ROW, None]
    assert ext.lines.tolist() == [2, 3, 4, 5, 7]
    # A long row is cut to the header's width (for the rejects file); a short one padded.
    assert ext.frame.row(3) == ("p4", "Cy", "Ho") and ext.frame.row(0) == ("p1", "Ann", None)
    # The frame-only reader refuses them, naming the row and its line.
    assert "row 1 (line 2) has 2 fields but the header has 3" in error_of(read_extract, p)
    q = write(tmp_path, HEADER + b"p1,Ann,Lee\n\np4,Cy,Ho,extra\n", "long.csv")
    assert "row 2 (line 4) has 4 fields but the header has 3" in error_of(read_extract, q)


def test_quoted_fields_with_delimiters_and_line_breaks(tmp_path):
    data = (HEADER + b'"p1","Ann, Marie","Lee\nJones"\n\np2,"Bob ""B""",Ray\n'
            b'p3,"Cy\n\n",Ho\np4,"x,y"\n')
    ext = read_extract_rows(write(tmp_path, data))
    assert ext.frame.rows() == [("p1", "Ann, Marie", "Lee\nJones"), ("p2", 'Bob "B"', "Ray"),
                                ("p3", "Cy\n\n", "Ho"), ("p4", "x,y", None)]
    assert ext.lines.tolist() == [2, 5, 6, 9]  # a blank line inside quotes is part of a value
    assert ext.blank_lines == 1
    assert ext.row_problems.to_list() == [None, None, None, SHORT_ROW]


def test_windows_and_old_mac_line_breaks(tmp_path):
    crlf = read_extract_rows(write(tmp_path, b'a,b\r\n"x\r\ny",2\r\n\r\n3,4', "crlf.csv"))
    assert crlf.frame.rows() == [("x\r\ny", "2"), ("3", "4")] and crlf.lines.tolist() == [2, 5]
    cr = read_extract_rows(write(tmp_path, b"a,b\r1,2\r\r3,4\r", "cr.csv"))
    assert cr.frame.rows() == [("1", "2"), ("3", "4")] and cr.lines.tolist() == [2, 4]


@pytest.mark.parametrize("name, data", [
    ("x.xlsx", b"PK\x03\x04 zipped sheets"),
    ("x.xls", b"anything"),
    ("x.ods", b"PK\x03\x04"),
    ("x.xlsm", b"PK\x03\x04"),
    ("renamed.csv", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 an old workbook"),
    ("renamed2.csv", b"PK\x03\x04 a workbook saved as .csv"),
])
def test_spreadsheet_workbooks_are_refused_with_what_to_do(tmp_path, name, data):
    msg = error_of(read_extract_rows, write(tmp_path, data, name))
    assert "spreadsheet workbook" in msg and "CSV UTF-8" in msg


@pytest.mark.parametrize("sep, flag", [(b";", "--delimiter ';'"), (b"\t", "--delimiter tab"),
                                       (b"|", "--delimiter '|'")])
def test_a_wrong_delimiter_is_named_with_the_option_to_use(tmp_path, sep, flag):
    head = sep.join([b"record_id", b"first_name", b"last_name", b"date_of_birth", b"sex", b"postcode", b"nhs"])
    p = write(tmp_path, head + b"\n" + sep.join([b"p1", b"Siobhan", b"Kelly", b"", b"", b"", b""]) + b"\n")
    msg = error_of(read_extract_rows, p)
    assert "one column" in msg and flag in msg and "record_id" in msg
    assert "..." in msg and "nhs" not in msg  # the header is shown cut to about 60 characters
    assert "Siobhan" not in msg
    ext = read_extract_rows(p, delimiter=sep.decode())
    assert ext.frame.columns[:2] == ["record_id", "first_name"] and ext.frame["last_name"].to_list() == ["Kelly"]


def test_a_file_without_a_header_never_has_its_first_row_shown(tmp_path):
    # Given the expected columns, a first line holding none of them is not printed: it is data.
    expected = ["record_id", "first_name", "last_name"]
    semi = write(tmp_path, b"p1;Siobhan;Kelly\np2;Ann;Lee\n")
    msg = error_of(read_extract_rows, semi, columns=expected)
    assert "--delimiter ';'" in msg and "Siobhan" not in msg and "p1" not in msg
    twice = write(tmp_path, b"p1,James,James\np2,Ann,Lee\n", "twice.csv")
    msg = error_of(read_extract_rows, twice, columns=expected)
    assert "more than once" in msg and "James" not in msg
    bad = write(tmp_path, b"p1,Siobhan,Kelly\np2,Ann,L\xffee\n", "bad.csv")
    msg = error_of(read_extract_rows, bad, columns=expected)
    assert "row 1 (line 2) is not valid utf-8" in msg and "Kelly" not in msg
    # With its header, the names are shown.
    assert "'last_name'" in error_of(read_extract_rows, write(tmp_path, HEADER + b"p2,Ann,L\xffee\n", "h.csv"),
                                     columns=expected)


def test_a_comma_file_read_with_another_delimiter_suggests_the_comma(tmp_path):
    msg = error_of(read_extract_rows, write(tmp_path, HEADER + b"p1,Ann,Lee\n"), delimiter=";")
    assert "--delimiter ','" in msg


@pytest.mark.parametrize("bad", ["", ";;", '"', "\n", "a", "7", "§", 5])
def test_a_delimiter_must_be_one_plain_character(bad):
    with pytest.raises(InputError, match="one character"):
        check_delimiter(bad)
    assert check_delimiter("\t") == "\t"


def test_undecodable_text_names_row_line_and_column(tmp_path):
    p = write(tmp_path, HEADER + b"p1,Ann,Lee\np2,\"Bob\n\",Kowal\xffski\n")
    msg = error_of(read_extract_rows, p)
    assert "row 2 (line 4), column 'last_name' is not valid utf-8 text" in msg and "--encoding" in msg
    assert "Kowal" not in msg
    head = write(tmp_path, b"record_id,pr\xe9nom\np1,Ann\n", "head.csv")
    assert "the header (line 1) is not valid utf-8" in error_of(read_extract_rows, head)
    assert read_extract_rows(head, encoding="cp1252").frame.columns == ["record_id", "prénom"]


@pytest.mark.parametrize("data, where", [
    (HEADER + b'p1,Ann,Lee\np2,Ma"ry,Lee\np3,Cy,Ho\n', "row 2 (line 3)"),
    (HEADER + b'p1,Ann,Lee\n\np2,"Mary"x,Lee\n', "row 2 (line 4)"),
    (HEADER + b'p1,Ann,Lee\np2,"Mary,Lee\np3,Cy,Ho\n', "row 2 (line 3)"),
    (HEADER + b'p1, "Ann, Marie",Lee\n', "row 1 (line 2)"),
])
def test_broken_quoting_is_one_line_naming_the_row(tmp_path, data, where):
    msg = error_of(read_extract_rows, write(tmp_path, data))
    assert "cannot read as CSV" in msg and where in msg and "quote" in msg
    assert "Mary" not in msg and "Ann" not in msg


@pytest.mark.parametrize("data, fragment", [
    (b"record_id,name,name\np1,a,b\n", "'name' more than once"),
    (b"record_id,name ,name\np1,a,b\n", "'name' more than once"),  # the same once spaces are stripped
    (b"\n \n,,\n", "only blank lines"),
    (b"\xef\xbb\xbf", "empty"),
    (HEADER + b"\n\n", "no data rows"),
])
def test_other_bad_files_are_input_errors(tmp_path, data, fragment):
    assert fragment in error_of(read_extract_rows, write(tmp_path, data))


def test_blank_column_names_are_allowed(tmp_path):
    ext = read_extract_rows(write(tmp_path, b"record_id,name,,\np1,Ann,,\n"))
    assert ext.frame.columns[:2] == ["record_id", "name"] and ext.frame.width == 4


def test_parquet_rows_have_no_lines_and_nested_columns_are_refused(tmp_path):
    pl.DataFrame({" record_id ": ["p1"], "n": [1.0]}).write_parquet(tmp_path / "a.parquet")
    ext = read_extract_rows(tmp_path / "a.parquet")
    assert ext.frame.rows() == [("p1", "1")] and ext.frame.columns == ["record_id", "n"]
    assert ext.lines is None and ext.row_problems is None and ext.where(1) == "row 1"
    pl.DataFrame({"record_id": ["p1"], "names": [["a", "b"]]}).write_parquet(tmp_path / "b.parquet")
    assert "'names'" in error_of(read_extract_rows, tmp_path / "b.parquet")


def test_opt_out_lists(tmp_path):
    def opt(text):
        return read_opt_out(write(tmp_path, text.encode(), "opt.txt"))

    assert opt("record_id\np1\n\n p2 \n\n") == ["p1", "p2"]
    assert opt("p1\r\n\r\np2") == ["p1", "p2"]
    assert opt("\n\nrecord_id,name\np1,Ann\n\np2,Bob\n") == ["p1", "p2"]
    assert opt("record_id;name\np1;Ann\n") == ["p1"]
    assert opt("name\trecord_id\nAnn\tp3\n") == ["p3"]
    assert opt("") == []
    # A delimited first line without a record_id column is refused, never read as ids.
    for text in ("id,name\np1,Ann\n", "id;name\np1;Ann\n"):
        with pytest.raises(InputError, match="needs a record_id column"):
            opt(text)
    with pytest.raises(InputError, match="spreadsheet workbook"):
        read_opt_out(write(tmp_path, b"PK\x03\x04", "opt.xlsx"))


def test_rejects_file_columns_and_clashing_input_names(tmp_path):
    raw = pl.DataFrame({"row": ["a", "b", "c"], "reason": ["x", "y", "=z"], "line": ["1", "2", "3"]})
    rejects = pl.DataFrame({"row": [3, 1], "record_id": ["c", "a"], "reason": ["too_few_fields", "short_row"]})
    n = write_rejects(tmp_path / "r.csv", raw, rejects, lines=np.array([2, 4, 7]))
    out = pl.read_csv(tmp_path / "r.csv", infer_schema=False)
    assert n == 2
    assert out.columns == ["row", "line", "reason", "row_input", "reason_input", "line_input"]
    assert out.rows() == [("1", "2", "short_row", "a", "x", "1"), ("3", "7", "too_few_fields", "c", "'=z", "3")]
    write_rejects(tmp_path / "p.csv", raw, rejects)  # Parquet input: no lines
    assert pl.read_csv(tmp_path / "p.csv", infer_schema=False)["line"].to_list() == [None, None]


values = st.text(alphabet=st.sampled_from(list('ab ,"\n\r;xé')), max_size=6)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(values.filter(lambda v: v.strip(" \r\n,") != ""), values), min_size=1, max_size=8),
       blanks=st.lists(st.sampled_from(["", "\n", "\n\n", " \n", ",\n"]), min_size=9, max_size=9))
def test_lines_and_values_survive_quoting_and_blank_lines(tmp_path_factory, rows, blanks):
    # Each row written by polars (quoting what needs it), with blank lines between rows.
    text, lines = "a,b\n", []
    for (a, b), gap in zip(rows, blanks):
        text += gap
        lines.append(text.count("\n") + 1)
        text += pl.DataFrame({"a": [a], "b": [b]}).write_csv(include_header=False)
    p = tmp_path_factory.mktemp("h") / "x.csv"
    p.write_bytes(text.encode())
    ext = read_extract_rows(p)
    assert ext.lines.tolist() == lines
    assert ext.frame["a"].to_list() == [a for a, _ in rows]
    assert ext.frame["b"].to_list() == [b for _, b in rows]  # polars writes "" for an empty string
    assert ext.row_problems is None
