"""How a CSV file is written: encoding, delimiter, line endings.

amoCRM exports UTF-8 (with a BOM when "for Excel" is ticked); a file that
went through Excel on a Russian Windows comes back as Windows-1251 with
semicolons. All of it is sniffed from the first bytes so nobody is asked.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path

from tui_crm.domain.errors import ValidationError

SAMPLE_BYTES = 64 * 1024
DELIMITERS = (";", ",", "\t")


@dataclass(frozen=True)
class CsvDialect:
    encoding: str  # a Python codec name: utf-8-sig, utf-8, cp1251
    delimiter: str
    newline: str  # "\r\n" or "\n" (what the file uses; the reader accepts both)

    @property
    def label(self) -> str:
        names = {"utf-8-sig": "UTF-8 with BOM", "utf-8": "UTF-8", "cp1251": "Windows-1251"}
        seps = {";": "semicolon", ",": "comma", "\t": "tab"}
        ending = "CRLF" if self.newline == "\r\n" else "LF"
        return f"{names.get(self.encoding, self.encoding)}, {seps.get(self.delimiter, self.delimiter)}, {ending}"


def detect_encoding(sample: bytes) -> str:
    """UTF-8 (BOM or not) when the bytes decode as UTF-8, else Windows-1251."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(sample, final=False)  # a character cut by the sample's end is not an error
    except UnicodeDecodeError:
        return "cp1251"
    return "utf-8"


def detect_delimiter(header_text: str) -> str:
    """The delimiter that splits the header line into the most cells."""
    best, best_cells = ",", 0
    for delimiter in DELIMITERS:
        try:
            cells = next(csv.reader(io.StringIO(header_text), delimiter=delimiter), [])
        except csv.Error:
            continue
        if len(cells) > best_cells:
            best, best_cells = delimiter, len(cells)
    return best


def detect(path: Path) -> CsvDialect:
    """Sniff a file; a file that is empty or not text is refused."""
    with path.open("rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    if not sample.strip():
        raise ValidationError("file", f"{path.name} is empty; export the records again")
    if b"\x00" in sample:
        raise ValidationError("file", f"{path.name} is not a text file (CSV or vCard); save it as CSV")
    encoding = detect_encoding(sample)
    text = sample.decode(encoding, errors="replace")
    first = text.split("\n", 1)[0]
    newline = "\r\n" if first.endswith("\r") else "\n"
    return CsvDialect(encoding=encoding, delimiter=detect_delimiter(first.rstrip("\r")), newline=newline)
