"""The privacy trade-off: re-identification by every attack against linkage quality, per hardening profile.

    .venv/bin/python benchmarks/privacy_tradeoff.py [--records N] [--profiles a,b,...] [--json OUT.json]

For each profile (no hardening, each single hardening, the default, a stronger one): the
synthetic family file of ``--records`` people (default 30,000) is encoded with a fixed key and
attacked by every attack of ``linkage audit`` with 0, 1%, 5% and 20% of its identities known
(the register is the plaintext itself: the worst case); and FEBRL4 and synthetic families
(10,000) are linked with the threshold estimated (a match-score model calibrated for the
profile's schema) and measured against the truth. ``notebooks/privacy.ipynb`` draws the table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from conftest import TEST_KEY, febrl4_frames

import linkage as lk
from linkage.linker.threshold import default_match_model
from linkage.privacy.audit import audit
from linkage.research.calibrate import calibrate
from linkage.research.synth import synth_families
from linkage.schema import PROFILES as PROFILES_BY_NAME

KNOWN = (0.0, 0.01, 0.05, 0.2)
_SALT = {"fields": ["first_name", "last_name"], "with": "date_of_birth", "part": "year"}
# Each starts from the "none" profile; "default" and "stronger" are the named profiles.
PROFILES: dict[str, dict] = {
    "none": {},
    "field keys": {"field_keys": True},
    "salt by year": {"salt": _SALT},
    "balance": {"balance": True},
    "xor-fold": {"xor_fold": True},
    "BLIP 0.1": {"blip": 0.1},
    "diffusion t=3": {"diffusion": 3},
    "default": PROFILES_BY_NAME["default"],
    "stronger": PROFILES_BY_NAME["stronger"],
}


def schema_of(hardening: dict) -> lk.Schema:
    return lk.Schema(hardening={"profile": "none", **hardening})


def reidentification(hardening: dict, records: int, *, seed: int = 0, known=KNOWN) -> dict[str, dict[float, float]]:
    """Share of records each attack re-identifies, per known share (None: not applicable)."""
    data = synth_families(records, seed=seed)
    enc = lk.encode_frame(data.a, schema_of(hardening), key=TEST_KEY)
    out: dict[str, dict[float, float | None]] = {}
    for k in known:
        for r in audit(enc, data.a, known=k, seed=seed).results:
            out.setdefault(r.name, {})[k] = round(r.reidentified / r.attacked, 5) if r.applicable else None
    return out


def linkage_quality(hardening: dict, *, synth_records: int = 10_000) -> dict[str, float]:
    """F1 on FEBRL4 and on synthetic families, threshold estimated without labels."""
    schema = schema_of(hardening)
    model = None if default_match_model(schema.fingerprint()) else calibrate(schema)  # packaged, or made here
    synth = synth_families(synth_records, seed=0)
    out = {}
    for name, (a, b, truth) in {"febrl4": febrl4_frames(), "synth": (synth.a, synth.b, synth.truth)}.items():
        res = lk.link(lk.encode_frame(a, schema, key=TEST_KEY), lk.encode_frame(b, schema, key=TEST_KEY),
                      match_model=model)
        out[f"f1_{name}"] = round(lk.evaluate(res.links, truth).f1, 4)
    return out


def measure(profiles: dict[str, dict], records: int, *, synth_records: int = 10_000,
            out: Path | None = None) -> list[dict]:
    """One row per profile; with ``out``, the rows so far are written after each profile."""
    rows = []
    for name, hardening in profiles.items():
        t = time.perf_counter()
        reid = reidentification(hardening, records)
        worst = {k: max((v[k] for v in reid.values() if v.get(k) is not None), default=0.0) for k in KNOWN}
        strongest = {k: max((a for a, v in reid.items() if v.get(k) is not None), key=lambda a: reid[a][k])
                     for k in KNOWN}
        row = {"profile": name, "hardening": hardening, "bits": schema_of(hardening).output_length,
               **{f"worst {k:.0%}": worst[k] for k in KNOWN}, **{f"by {k:.0%}": strongest[k] for k in KNOWN},
               **linkage_quality(hardening, synth_records=synth_records), "attacks": reid,
               "seconds": round(time.perf_counter() - t)}
        print(json.dumps({k: v for k, v in row.items() if k != "attacks"}), flush=True)
        rows.append(row)
        if out:
            out.write_text(json.dumps(rows, indent=1) + "\n")
    return rows


def table(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame([{k: v for k, v in r.items() if k not in ("attacks", "hardening")} for r in rows])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=30_000)
    p.add_argument("--profiles", default=",".join(PROFILES))
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    rows = measure({n: PROFILES[n] for n in args.profiles.split(",")}, args.records, out=args.json)
    with pl.Config(tbl_rows=30, tbl_cols=30, tbl_width_chars=250, float_precision=4):
        print(table(rows))


if __name__ == "__main__":
    main()
