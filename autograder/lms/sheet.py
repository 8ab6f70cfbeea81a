"""A CSV file as an LMS wrote it, read and written back the same way.

The byte order mark (Moodle writes one; Canvas can), the separator (Canvas writes `;` where the decimal mark
is a comma), quoting every field or only where needed, and the line ends are kept, so that a filled-in
worksheet differs from the downloaded one only in the cells that were filled.
"""

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path


class ExportError(ValueError):
    """Bad input to `export`: the message is shown as one line, exit code 2."""


@dataclass
class Sheet:
    rows: list[list[str]]
    bom: bool = True
    delimiter: str = ","
    newline: str = "\n"
    quoting: str = "minimal"  # "minimal" (Python, Ruby), "php" (PHP's fputcsv: also fields with spaces), "all"

    @property
    def header(self) -> list[str]:
        return self.rows[0] if self.rows else []

    def column(self, name: str) -> int | None:
        """The index of the column with this header (spaces around it and case ignored), or None."""
        wanted = name.strip().casefold()
        for index, header in enumerate(self.header):
            if header.strip().casefold() == wanted:
                return index
        return None

    def _field(self, text: str) -> str:
        special = self.delimiter + '"\n\r' + (" \t\\" if self.quoting == "php" else "")
        if self.quoting == "all" or any(char in special for char in text):
            return '"' + text.replace('"', '""') + '"'
        return text

    def write(self, path: Path) -> None:
        text = "".join(self.delimiter.join(self._field(cell) for cell in row) + self.newline for row in self.rows)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes((codecs.BOM_UTF8 if self.bom else b"") + text.encode("utf-8"))


def read_sheet(path: Path, what: str) -> Sheet:
    """Read a CSV file downloaded from an LMS; what: how to name it in an error ("Moodle grading worksheet")."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ExportError(f"--worksheet {path}: no such file") from None
    except OSError as error:
        raise ExportError(f"--worksheet {path}: cannot be read ({error.strerror})") from None
    bom = data.startswith(codecs.BOM_UTF8)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ExportError(
            f"--worksheet {path} is not UTF-8 text: download the {what} again from the LMS "
            '(or save it from your spreadsheet program as "CSV UTF-8")'
        ) from None
    first = text.split("\n", 1)[0]
    if not first.strip():
        raise ExportError(f"--worksheet {path} is empty or has no header line: it is not a {what}")
    delimiter = max([",", ";", "\t"], key=lambda d: (len(next(csv.reader([first], delimiter=d))), d == ","))
    newline = "\r\n" if first.endswith("\r") else "\n"
    quoting = _quoting_of(first.rstrip("\r"), delimiter)
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    except csv.Error as error:
        raise ExportError(f"--worksheet {path} is not a readable CSV file ({error})") from None
    return Sheet(rows, bom, delimiter, newline, quoting)


def _quoting_of(line: str, delimiter: str) -> str:
    """How the header line was quoted: "all", "php" (exactly the fields with spaces or specials) or "minimal"."""
    fields, quoted, index = [], [], 0
    while index <= len(line):
        if line.startswith('"', index):
            end = index + 1
            while True:
                end = line.find('"', end)
                if end < 0 or not line.startswith('""', end):
                    break
                end += 2
            end = len(line) if end < 0 else end
            fields.append(line[index + 1 : end].replace('""', '"'))
            quoted.append(True)
            index = line.find(delimiter, end)
        else:
            stop = line.find(delimiter, index)
            fields.append(line[index:] if stop < 0 else line[index:stop])
            quoted.append(False)
            index = stop
        if index < 0:
            break
        index += 1
    if all(quoted):
        return "all"
    php = [any(char in delimiter + '"\n\r \t\\' for char in field) for field in fields]
    only_php = [any(c in " \t\\" for c in f) and not any(c in delimiter + '"\n\r' for c in f) for f in fields]
    return "php" if php == quoted and any(only_php) else "minimal"


def parse_number(text: str) -> float | None:
    """'10', '10.00', '10,00', '1 000,5' -> float; anything else (empty, 'read only', '-') -> None."""
    cleaned = text.strip().replace("\u00a0", "").replace(" ", "")
    if cleaned.count(",") == 1 and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    try:
        return float(cleaned)
    except ValueError:
        return None


def format_number(value: float, decimal_comma: bool = False) -> str:
    """7.5 -> '7.5', 10.0 -> '10', 2/3 -> '0.67' (',' as decimal mark when the file uses it)."""
    text = f"{round(value, 2):.2f}".rstrip("0").rstrip(".")
    return text.replace(".", ",") if decimal_comma else text
