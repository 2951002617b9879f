"""TEMPORARY, drop at merge: lib/store/sql.py and lib/store/rest.py (another branch) still import
``lib.export``; its code now lives in lib/files (csv_encoding, formats, frames)."""

from lib.files.csv_encoding import FORMULA_TRIGGERS, encode_cell, header_bytes, to_csv, write_csv

__all__ = ["FORMULA_TRIGGERS", "encode_cell", "header_bytes", "to_csv", "write_csv"]
