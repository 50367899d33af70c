"""XLSX uploads as rows: openpyxl's read-only mode, which holds the sheet's shared strings, not
its rows. An XLSX is a zip, so it is checked for a zip bomb before anything is inflated.
"""
from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from tablegate.errors import BadRequest, PayloadTooLarge, TablegateError
from tablegate.formats.rows import MalformedFile, Row, make_row, text

# An XLSX is a zip. Entries are refused before anything is inflated when they declare more than
# the configured total (TABLEGATE_IMPORT_MAX_INFLATED_BYTES) or, past 1 MiB, a ratio no
# spreadsheet reaches (zeros compress about 1000:1, sheet XML 10-50:1). A declared size can lie:
# each entry is then inflated once, in small pieces, before openpyxl sees it. zipfile stops a
# piecewise read at the declared size and fails the CRC of an entry that held more, whereas
# openpyxl reads some entries whole, which zipfile inflates in one piece however large.
MAX_RATIO = 200
RATIO_FROM_BYTES = 1024 * 1024
MAX_ENTRIES = 10_000
INFLATE_PIECE = 64 * 1024


def check_zip(stream: BinaryIO, max_inflated: int) -> None:
    """Refuse what is not a zip, and a zip bomb, before anything is inflated."""
    try:
        with zipfile.ZipFile(stream) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise MalformedFile("The file is not an XLSX workbook: it is not a zip archive") \
            from None
    finally:
        stream.seek(0)
    if len(entries) > MAX_ENTRIES:
        raise PayloadTooLarge(f"The workbook has over {MAX_ENTRIES} parts")
    total = sum(entry.file_size for entry in entries)
    if total > max_inflated:
        raise PayloadTooLarge(f"The workbook would inflate to {total} bytes, over the limit of "
                              f"{max_inflated} (TABLEGATE_IMPORT_MAX_INFLATED_BYTES)")
    for entry in entries:
        if (entry.file_size > RATIO_FROM_BYTES
                and entry.file_size > MAX_RATIO * max(entry.compress_size, 1)):
            raise PayloadTooLarge(f"A part of the workbook is compressed over {MAX_RATIO}:1, "
                                  "which no spreadsheet is: refused as a zip bomb")
    _inflate_in_pieces(stream, entries)


def _inflate_in_pieces(stream: BinaryIO, entries: list[zipfile.ZipInfo]) -> None:
    try:
        with zipfile.ZipFile(stream) as archive:
            for entry in entries:
                with archive.open(entry) as member:
                    while member.read(INFLATE_PIECE):
                        pass
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error, NotImplementedError,
            RuntimeError, ValueError):  # RuntimeError: encrypted
        raise MalformedFile("The workbook is damaged: a part of it does not inflate to the "
                            "size it declares") from None
    finally:
        stream.seek(0)


def read_xlsx_rows(stream: BinaryIO, sheet: str | None, max_inflated: int,
                   native: bool = False) -> tuple[list[str], Iterator[Row]]:
    """The first sheet, or ``sheet``. Rows are numbered by their place below the header row
    (a blank row is skipped but counted), so data row n is n rows under the header in Excel."""
    import openpyxl  # imported on first use: it is heavy and most imports are CSV

    check_zip(stream, max_inflated)
    try:
        workbook = openpyxl.load_workbook(stream, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises a zoo of types for a broken workbook
        raise MalformedFile("The file is not a readable XLSX workbook "
                            f"({type(exc).__name__})") from None
    try:
        worksheet = _worksheet(workbook, sheet)
        rows = worksheet.iter_rows(values_only=True)
        header = _xlsx_header(rows)
    except BaseException:
        workbook.close()
        raise
    return header, _xlsx_rows(workbook, rows, header, native)


def _worksheet(workbook, sheet: str | None):
    names = workbook.sheetnames
    if sheet is None:
        if not workbook.worksheets:
            raise MalformedFile("The workbook has no worksheet")
        return workbook.worksheets[0]
    if sheet not in names or sheet not in [ws.title for ws in workbook.worksheets]:
        raise BadRequest(f"No worksheet {sheet!r} in the workbook; it has: "
                         + ", ".join(repr(n) for n in names), {"parameter": "sheet",
                                                                "sheets": names})
    return workbook[sheet]


def _xlsx_header(rows: Iterator[tuple]) -> list[str]:
    """The first row with a value, its trailing empty cells dropped."""
    try:
        for cells in rows:
            if any(cell is not None for cell in cells):
                break
        else:
            raise MalformedFile("The sheet is empty: its first row must name the columns")
    except TablegateError:
        raise
    except Exception as exc:
        raise MalformedFile(f"The sheet cannot be read ({type(exc).__name__})") from None
    cells = list(cells)
    while cells[-1] is None:
        cells.pop()
    header = []
    for index, cell in enumerate(cells, start=1):
        name = text(cell)
        if name is None or name == "":
            raise MalformedFile(f"Column {index} of the header row is empty",
                                {"column_index": index})
        if name in header:
            raise MalformedFile(f"Column {name!r} appears twice in the header",
                                {"column": name})
        header.append(name)
    return header


def _xlsx_rows(workbook, rows: Iterator[tuple], header: list[str],
               native: bool) -> Iterator[Row]:
    width = len(header)
    number = 0
    try:
        for number, cells in enumerate(rows, start=1):
            if not any(cell is not None for cell in cells):
                continue
            if len(cells) > width and any(cell is not None for cell in cells[width:]):
                yield Row(number, None, 0,
                                f"Row has a value beyond the header's {width} columns")
                continue
            values = list(cells[:width]) + [None] * (width - len(cells))
            yield make_row(number, values, native)
    except TablegateError:
        raise
    except Exception as exc:
        raise MalformedFile(f"Row {number + 1} cannot be read, nor anything after it "
                            f"({type(exc).__name__})", {"row": number + 1}) from None
    finally:
        workbook.close()
