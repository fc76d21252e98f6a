"""Keys: one format (hexadecimal text) in files and the environment, and never in any message."""

import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from conftest import PEOPLE, assert_user_error
from conftest import run_cli as run

import linkage as lk
from linkage.errors import KeyFileError
from linkage.provider.keys import key_check_value, looks_like_secret, read_key, write_key

KEY = bytes(range(7, 39))


def test_a_key_file_and_the_environment_hold_the_same_text(tmp_path):
    path = write_key(tmp_path / "k.key", KEY)
    assert path.read_text() == KEY.hex() + "\n"
    assert read_key(path) == KEY
    env = {"K": KEY.hex()}
    out = [tmp_path / f"{n}.enc.parquet" for n in ("f", "e")]
    people = tmp_path / "p.csv"
    PEOPLE.write_csv(people)
    assert run("encode", people, "--key-file", path, "--out", out[0], "-q").exit_code == 0
    assert run("encode", people, "--key-env", "K", "--out", out[1], "-q", env=env).exit_code == 0
    a, b = (lk.read_encoded(p) for p in out)
    assert a.key_check == b.key_check == key_check_value(KEY)


def test_a_linkage_0_1_raw_key_file_is_still_read(tmp_path):
    legacy = tmp_path / "old.key"
    legacy.write_bytes(KEY)
    legacy.chmod(0o600)
    assert read_key(legacy) == KEY


@pytest.mark.parametrize("content", [b"not a key at all\n", b"abc\n", b"\x00" * 40])
def test_anything_else_is_not_a_key_file(tmp_path, content):
    path = tmp_path / "x.key"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match=r"not a key file|shorter than"):
        read_key(path)


def test_the_api_takes_the_key_as_bytes_or_hexadecimal_text():
    a = lk.encode_frame(PEOPLE, key=KEY)
    b = lk.encode_frame(PEOPLE, key=KEY.hex())
    assert np.array_equal(a.clks, b.clks)
    with pytest.raises(KeyFileError, match="hexadecimal"):
        lk.encode_frame(PEOPLE, key="not hex")
    with pytest.raises(KeyFileError, match="bytes or hexadecimal"):
        lk.encode_frame(PEOPLE, key=12345)


@pytest.mark.parametrize(
    "args",
    [
        ["encode", "p.csv", "--key-file", KEY.hex(), "--out", "o.enc.parquet"],
        ["encode", "p.csv", "--key-env", KEY.hex(), "--out", "o.enc.parquet"],
        ["encode", KEY.hex(), "--key-file", "k.key", "--out", "o.enc.parquet"],
        ["encode", "p.csv", KEY.hex(), "--key-file", "k.key", "--out", "o.enc.parquet"],
        ["link", KEY.hex(), "b.enc.parquet", "--out", "l.csv"],
        ["link", "a.enc.parquet", "b.enc.parquet", "--out", "l.csv", "--threshold", KEY.hex()],
    ],
)
def test_a_key_passed_where_it_does_not_belong_never_shows(tmp_path, args):
    os.chdir(tmp_path)
    PEOPLE.write_csv("p.csv")
    write_key("k.key", bytes(range(32)))
    r = run(*args, env={"LINKAGE_KEY_FILE": None})
    assert r.exit_code in (1, 2), r.output
    assert KEY.hex() not in r.output and KEY.hex()[:32] not in r.output
    assert looks_like_secret(KEY.hex()) and not looks_like_secret("council_a.enc.parquet")


def test_keygen_refuses_a_key_shaped_path_without_repeating_it(tmp_path):
    os.chdir(tmp_path)
    write_key("taken.key")
    assert_user_error(run("keygen", "taken.key"), "already exists")


def _run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_a_closed_pipe_stops_quietly():
    code = ("import os, sys\nr, w = os.pipe()\nos.close(r)\nos.dup2(w, 1)\n"
            "sys.argv = ['linkage', 'schema']\nfrom linkage.cli import main\nmain()\n")
    p = _run_python(code)
    assert p.returncode == 141 and "internal error" not in p.stderr and "Traceback" not in p.stderr


def test_sigterm_removes_temporary_files(tmp_path):
    code = (
        "import os, signal, sys, time\n"
        "from pathlib import Path\n"
        "from linkage.cli import install_signal_handlers, cli\n"
        "from linkage.format.files import atomic_path\n"
        "import click\n"
        "@cli.command('slow-write')\n"
        "def slow_write():\n"
        f"    with atomic_path(Path({str(tmp_path / 'out.csv')!r})) as tmp:\n"
        "        tmp.write_text('raw identifiers would be here')\n"
        "        os.kill(os.getpid(), signal.SIGTERM)\n"
        "        time.sleep(30)\n"
        "install_signal_handlers()\n"
        "cli(['slow-write'], prog_name='linkage')\n"
    )
    p = _run_python(code)
    assert p.returncode == 128 + signal.SIGTERM, p.stderr
    assert "terminated" in p.stderr and "Traceback" not in p.stderr
    assert list(tmp_path.iterdir()) == []
