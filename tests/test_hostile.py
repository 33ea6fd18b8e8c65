"""Hostile input: one case for each class of harm, every input built here, on the fly.

Each case checks what a user would see: the exit status; one short line on stderr, never a traceback; that no
file changed but the export's target; that no .part file is left behind; and, for crafted workbooks, time and
memory. The command line runs in a subprocess wherever exit codes, signals or memory are the point.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import resource
import signal
import stat
import subprocess
import sys
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from collabsheet.engine.cli import main as cli
from collabsheet.engine.cli import sheet as cli_sheet
from collabsheet.engine.config import SheetConfig
from collabsheet.engine.data.crosstab import Crosstab
from collabsheet.engine.data.ratings import RatingsError, load_ratings
from collabsheet.engine.sheet.sheet import Sheet
from collabsheet.engine.xlsx import ENGINE, XlsxError, export_xlsx, import_xlsx
from collabsheet.engine.xlsx.collab.layout import Layout
from collabsheet.engine.xlsx.collab.read import MARGIN
from collabsheet.engine.xlsx.package import MAX_PART_BYTES, MAX_PARTS, MAX_TEXT

ROOT = Path(__file__).resolve().parents[1]
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # what a terminal acts on (newlines aside)


# ---------------------------------------------------------------- running the command line

@dataclass
class Run:
    code: int
    out: str
    err: str
    seconds: float
    peak_mb: float  # the process's peak resident memory

    @property
    def message(self) -> str:
        """The line the user is told: stderr's last, checked to be one short line and never a traceback."""
        assert "Traceback" not in self.err and "Exception ignored" not in self.err, self.err
        last = self.err.rstrip("\n").split("\n")[-1]
        assert last.startswith("collabsheet") and len(last) < 400, self.err
        return last


def run(*args: str, cwd: Path, stdin=subprocess.DEVNULL, until: str | None = None, send: int | None = None,
        after: float = 0.5, preexec=None, timeout: float = 120) -> Run:
    """The command line in a subprocess; with send, that signal goes once stdout shows `until` (and `after` s)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))  # this checkout's engine, whatever is installed
    out, err = cwd / ".out.txt", cwd / ".err.txt"
    start = time.monotonic()
    with out.open("w") as fo, err.open("w") as fe:
        proc = subprocess.Popen([sys.executable, "-m", "collabsheet.engine", *args], cwd=cwd, env=env, stdin=stdin,
                                stdout=fo, stderr=fe, preexec_fn=preexec)
    sent = send is None
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if not sent and until in out.read_text():
            time.sleep(after)
            proc.send_signal(send)
            sent = True
        if time.monotonic() - start > timeout:
            proc.kill()
            pytest.fail(f"{args} ran past {timeout} s")
        time.sleep(0.02)
    proc.returncode = os.waitstatus_to_exitcode(status)
    result = Run(proc.returncode, out.read_text(), err.read_text(), time.monotonic() - start,
                 usage.ru_maxrss / 1024)
    out.unlink()
    err.unlink()
    return result


def in_process(capsys, *argv: str) -> tuple[int, str, str]:
    """main() in this process: the exit status (a parse error's SystemExit too), stdout and stderr."""
    try:
        code = cli.main(list(argv))
    except SystemExit as done:
        code = done.code
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    """stderr's last line, checked as Run.message checks it."""
    return Run(2, "", err, 0, 0).message


def files(folder: Path) -> dict[str, tuple]:
    """Every entry in folder: its kind, and for regular files their size, time and contents' digest."""
    out = {}
    for p in folder.iterdir():
        st = p.lstat()
        kind = stat.S_IFMT(st.st_mode)
        digest = hashlib.sha256(p.read_bytes()).hexdigest() if stat.S_ISREG(st.st_mode) else os.readlink(p) \
            if stat.S_ISLNK(st.st_mode) else ""
        out[p.name] = (kind, st.st_size, st.st_mtime_ns, digest)
    return out


def changed(before: dict, after: dict) -> set[str]:
    return {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}


def no_part(folder: Path) -> None:
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".part")]


@pytest.fixture
def ratings(tmp_path) -> Path:
    """A small ratings CSV, so commands need no MovieLens."""
    rng = np.random.default_rng(11)
    rows = [f"{u},{i},{rng.integers(1, 6)}" for u in range(1, 10) for i in range(1, 9) if rng.random() < 0.8]
    path = tmp_path / "ratings.csv"
    path.write_text("user,item,rating\n" + "\n".join(rows) + "\n")
    return path


# ---------------------------------------------------------------- data loss: where export may write

@pytest.mark.parametrize("kind", ["fifo", "symlink", "device", "folder"])
def test_export_only_replaces_a_regular_file(capsys, tmp_path, ratings, kind):
    target = tmp_path / "out.xlsx"
    (tmp_path / "victim.txt").write_text("keep me")
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "symlink":
        target.symlink_to(tmp_path / "victim.txt")
    elif kind == "device":
        if os.geteuid() != 0:
            pytest.skip("making a device node needs root")
        os.mknod(target, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # what /dev/null is
    else:
        target.mkdir()
    before = files(tmp_path)
    code, out, err = in_process(capsys, "export", str(target), "--ratings", str(ratings), "--top", "5")
    assert code == 2 and out == ""
    what = {"fifo": "is a FIFO", "symlink": "is a symbolic link", "device": "is a device", "folder": "is a folder"}
    assert one_line(err) == (f"collabsheet: out.xlsx: {what[kind]}{' (named pipe)' if kind == 'fifo' else ''}; "
                             "collabsheet writes a workbook only as a new or regular file")
    assert changed(before, files(tmp_path)) == set()


def test_export_never_overwrites_the_ratings_it_reads(capsys, tmp_path, ratings):
    same = tmp_path / "ratings.xlsx"
    same.write_bytes(ratings.read_bytes())  # a CSV with the workbook's ending, read as ratings
    (tmp_path / "sub").mkdir()
    hard = tmp_path / "hard.xlsx"
    os.link(ratings, hard)
    before = files(tmp_path)
    for target, source in ((same, same), (tmp_path / "sub" / ".." / "ratings.xlsx", same), (hard, ratings)):
        code, out, err = in_process(capsys, "export", str(target), "--ratings", str(source), "--top", "5")
        assert code == 2 and out == ""  # refused before the ratings were even read
        assert one_line(err) == (f"collabsheet: {target.name}: is the ratings file this workbook is made from; "
                                 "choose another name")
    assert changed(before, files(tmp_path)) == set()


def test_export_checks_its_folder_before_the_work(capsys, tmp_path):
    code, out, err = in_process(capsys, "export", str(tmp_path / "missing" / "out.xlsx"), "--solve")
    assert code == 2 and out == "" and "Trying" not in err  # no data was loaded, nothing solved
    assert one_line(err) == (f"collabsheet: out.xlsx: cannot be written (the folder {tmp_path / 'missing'} "
                             "does not exist)")


def test_export_requires_the_xlsx_ending(capsys, tmp_path, ratings):
    before = files(tmp_path)
    code, out, err = in_process(capsys, "export", str(tmp_path / "sheet.csv"), "--ratings", str(ratings))
    assert code == 2 and out == ""
    assert one_line(err).endswith("a workbook is written as .xlsx; end the file name with .xlsx "
                                  "(see collabsheet export -h)")
    assert changed(before, files(tmp_path)) == set()


def test_signals_during_export_leave_no_part_file(tmp_path):
    target = tmp_path / "out.xlsx"
    target.write_bytes(b"an earlier workbook")
    before = files(tmp_path)
    stepping = run("export", "out.xlsx", "--steps", "1e9", "--device", "cpu", cwd=tmp_path, until="sheet, k=5",
                   send=signal.SIGINT)
    assert stepping.code == 130
    assert re.fullmatch(r"collabsheet: interrupted at step [1-9]\d*; nothing written", stepping.message)
    writing = run("export", "out.xlsx", "--top", "500", "--device", "cpu", cwd=tmp_path, until="sheet, k=5",
                  send=signal.SIGTERM, after=1.0)  # a 500 × 500 workbook takes several seconds to build
    assert writing.code == 143
    assert writing.message == "collabsheet: terminated at step 0; nothing written"
    assert changed(before, files(tmp_path)) == set()
    no_part(tmp_path)


def test_a_full_disk_is_one_line(tmp_path):
    target = tmp_path / "out.xlsx"
    target.write_bytes(b"an earlier workbook")
    before = files(tmp_path)

    def small_files() -> None:  # a file-size limit fails writes as a full disk does, with EFBIG instead of ENOSPC
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (8_000, 8_000))  # below the 15 × 15 workbook's ~15 KB

    full = run("export", "out.xlsx", "--device", "cpu", cwd=tmp_path, preexec=small_files)
    assert full.code == 2
    assert full.message == "collabsheet: out.xlsx: cannot be written (File too large)"
    assert changed(before, files(tmp_path)) == set()
    no_part(tmp_path)


# ---------------------------------------------------------------- injection

def test_text_from_outside_never_becomes_a_formula(capsys, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    planted = ['=HYPERLINK("http://example.com","click")', "=1+1", "@SUM(A1)", "+2", "-3+cmd|' /C calc'!A0"]
    rows = [f'"{planted[u % 5].replace(chr(34), 2 * chr(34))} u{u}",{i},{(u * i) % 5 + 1}'
            for u in range(6) for i in range(1, 7)]
    ratings = folder / "ratings.csv"
    ratings.write_text("user,item,rating\n" + "\n".join(rows) + "\n")
    (folder / "movies.csv").write_text("movieId,title\n" + "".join(
        f'{i},"{planted[i % 5].replace(chr(34), 2 * chr(34))}"\n' for i in range(1, 7)))
    named = folder / '=HYPERLINK("http:x","y").csv'
    named.write_bytes(ratings.read_bytes())
    for source in (ratings, named):
        out = tmp_path / f"{source.stem[:3]}.xlsx"
        code, _, err = in_process(capsys, "export", str(out), "--ratings", str(source), "--top", "5")
        assert code == 0, err
        wb = openpyxl.load_workbook(out)
        texts = set()
        for ws in wb:
            for row in ws.iter_rows():
                for cell in row:
                    if cell.data_type == "f":  # only the formulas export writes itself
                        assert re.fullmatch(r"=(SQRT\(SUMXMY2\(|IF\(|\$A\d+$|'?Sheet'?!\$B\$2$|B\d+-B\d+$).*",
                                            cell.value), cell.value
                    elif isinstance(cell.value, str):
                        texts.add(cell.value)
        assert {v for v in texts if v.startswith(("=", "@", "+", "-"))}  # the planted text is there, as text
        book = import_xlsx(out)
        assert all(isinstance(u, str) and u.split(" u")[0] in planted for u in book.grid.user_ids)
    assert book.grid.name == named.name


def test_control_characters_are_escaped_on_the_terminal(capsys, tmp_path):
    evil = "\x1b]0;owned\x07\x1b[2J\u202e"
    path = tmp_path / "ratings.csv"
    path.write_text("user,item,rating\n" + "".join(f"u{u}{evil},i{i}{evil},{(u + i) % 5 + 1}\n"
                                                   for u in range(6) for i in range(6)))
    for command in ("grid", "solve"):
        code, out, err = in_process(capsys, command, "--ratings", str(path), "--top", "5", *(
            ["--device", "cpu"] if command == "solve" else []))
        assert code == 0 and not CONTROL.search(out + err) and "\u202e" not in out
        assert "\\x1b]0;owned\\x07" in out
    code, out, err = in_process(capsys, "grid", "--ratings", str(tmp_path / f"no{evil}.csv"))
    assert code == 2 and not CONTROL.search(err) and "\\x1b" in one_line(err)


# ---------------------------------------------------------------- bounded work on hostile workbooks

@pytest.fixture(scope="module")
def workbooks(tmp_path_factory) -> Path:
    """A good exported workbook, and crafted ones made from it, each answering one way of asking for too much."""
    folder = tmp_path_factory.mktemp("workbooks")
    rng = np.random.default_rng(3)
    ratings = rng.integers(1, 6, (15, 15)).astype(float)
    grid = Crosstab(ratings, tuple(range(15)), tuple(range(15)), tuple(f"M{j}" for j in range(15)), "t")
    good = folder / "good.xlsx"
    export_xlsx(Sheet(grid, SheetConfig(), device="cpu").snapshot(), good)
    with zipfile.ZipFile(good) as zf:
        parts = {name: zf.read(name) for name in zf.namelist()}

    def crafted(name: str, replace: dict[str, object]) -> None:
        with zipfile.ZipFile(folder / name, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            for part, data in parts.items():
                if part not in replace:
                    zf.writestr(part, data)
            for part, data in replace.items():
                with zf.open(part, "w", force_zip64=True) as fh:
                    for piece in data() if callable(data) else [data]:
                        fh.write(piece)

    def sheet(rows: int, cols: int, dimension: str | None) -> callable:
        def pieces():
            yield b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            if dimension:
                yield f'<dimension ref="{dimension}"/>'.encode()
            yield b"<sheetData>"
            cells = b"<c><v>1</v></c>" * cols  # no r attribute: each cell is the next column
            for r in range(1, rows + 1):
                yield b'<row r="%d">' % r + cells + b"</row>"
            yield b"</sheetData></worksheet>"
        return pieces

    def strings(*texts: object) -> callable:
        def pieces():
            yield b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            for text in texts:
                yield b"<si><t>"
                if isinstance(text, int):  # a string of that many characters, streamed
                    for _ in range(text >> 20):
                        yield b"a" * (1 << 20)
                else:
                    yield text
                yield b"</t></si>"
            yield b"</sst>"
        return pieces

    sheet1 = "xl/worksheets/sheet1.xml"
    crafted("declared.xlsx", {sheet1: sheet(3, 3, "A1:NTP10000")})  # declares 10,000 × 10,000 cells
    crafted("wide.xlsx", {sheet1: sheet(3_000, 3_000, "A1")})  # 3,000 × 3,000 cells, declaring one
    # Export writes text inline; a workbook Excel saved keeps it as shared strings, as these do from A1.
    shared = re.sub(rb'<c r="A1"(.*?)</c>', b'<c r="A1" t="s"><v>0</v></c>', parts[sheet1], count=1)
    crafted("part.xlsx", {"xl/sharedStrings.xml": strings(MAX_PART_BYTES + (1 << 20)), sheet1: shared})
    crafted("string.xlsx", {"xl/sharedStrings.xml": strings(1 << 20), sheet1: shared})  # past Excel's limit
    inline = b'<worksheet><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>' + b"x" * (1 << 20) + \
        b"</t></is></c></row></sheetData></worksheet>"
    crafted("inline.xlsx", {sheet1: inline})
    laughs = (b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
              b']><sst><si><t>&b;</t></si></sst>')
    crafted("laughs.xlsx", {"xl/sharedStrings.xml": laughs, sheet1: shared})
    with zipfile.ZipFile(folder / "parts.xlsx", "w") as zf:
        for part, data in parts.items():
            zf.writestr(part, data)
        for i in range(MAX_PARTS + 1):
            zf.writestr(f"xl/media/empty{i}.bin", b"")
    return folder


_GOOD = Layout(15, 15, 5, False)  # the crafted workbooks' own layout: nothing past its blocks (and a margin) is read
BOUND = (_GOOD.prediction_row(14) + MARGIN, _GOOD.movie_col(14) + MARGIN)
MOST = (f"a collabsheet workbook's Sheet sheet has at most {BOUND[0]:,} rows and {BOUND[1]:,} columns "
        f"({get_column_letter(BOUND[1])}{BOUND[0]})")
CRAFTED = {
    "declared.xlsx": f"the Sheet sheet declares 10,000 rows and 10,000 columns (A1:NTP10000); {MOST}",
    "wide.xlsx": f"the Sheet sheet has a cell at {get_column_letter(BOUND[1] + 1)}1; {MOST}",
    "part.xlsx": "part xl/sharedStrings.xml unpacks to {size:,} bytes, over the limit of "
                 f"{MAX_PART_BYTES:,} bytes for one part",
    "string.xlsx": f"shared string 1 is longer than {MAX_TEXT:,} characters, Excel's limit for a cell",
    "inline.xlsx": f"Sheet!A1 holds text longer than {MAX_TEXT:,} characters, Excel's limit",
    "laughs.xlsx": "part xl/sharedStrings.xml declares a DTD, which no workbook part has",
    "parts.xlsx": f"has {MAX_PARTS + 11:,} parts, over the limit of {MAX_PARTS:,}",  # 10 of the workbook's own
}


# Imports each workbook named through the command line's main() in one process, printing each one's exit
# status and the process's peak memory after it (one process, as starting one per workbook costs seconds).
IMPORTS = """
import json, resource, sys
from collabsheet.engine.cli.main import main
for name in sys.argv[1:]:
    code = main(["import", name, "--device", "cpu"])
    print(json.dumps([name, code, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024]), flush=True)
"""


@pytest.mark.slow
def test_crafted_workbooks_are_answered_quickly_in_one_line(capsys, workbooks):
    before = files(workbooks)
    for name, what in CRAFTED.items():
        if name == "part.xlsx":
            with zipfile.ZipFile(workbooks / name) as zf:
                what = what.format(size=zf.getinfo("xl/sharedStrings.xml").file_size)
        start = time.perf_counter()
        code, out, err = in_process(capsys, "import", str(workbooks / name))
        assert time.perf_counter() - start < 5.0, name
        assert code == 2 and out == "" and one_line(err) == f"collabsheet: {name}: {what}"
    done = subprocess.run([sys.executable, "-c", IMPORTS, "good.xlsx", *CRAFTED], cwd=workbooks, capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=300)
    assert done.returncode == 0 and "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    peaks = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("[")]
    assert [(name, code) for name, code, _ in peaks] == [("good.xlsx", 0)] + [(name, 2) for name in CRAFTED]
    normal = peaks[0][2]
    assert all(peak < normal + 300 for _, _, peak in peaks), peaks  # the peak only grows: each one is bounded
    assert changed(before, files(workbooks)) == set()


def test_a_huge_k_is_blamed_on_its_own_cell(tmp_path, workbooks):
    path = tmp_path / "k.xlsx"
    path.write_bytes((workbooks / "good.xlsx").read_bytes())
    wb = openpyxl.load_workbook(path)
    row = next(r for r in range(1, 40) if wb[ENGINE].cell(r, 1).value == "Factors k")
    wb[ENGINE].cell(row, 2).value = 10**6
    wb.save(path)
    with pytest.raises(XlsxError) as refused:
        import_xlsx(path)
    assert str(refused.value) == f"k.xlsx: {ENGINE}!B{row} is more factors than a sheet has (1,000,000; at most 1,000)"


# ---------------------------------------------------------------- memory flat in the number of steps

def test_steps_run_in_bounded_chunks(capsys, monkeypatch):
    asked = []
    step = Sheet.step

    def spy(self, n=1):
        asked.append(n)
        return step(self, n)

    monkeypatch.setattr(Sheet, "step", spy)
    code, out, _ = in_process(capsys, "step", "--steps", "4500", "--every", "2000", "--device", "cpu")
    assert code == 0 and max(asked) <= cli_sheet.CHUNK and sum(asked) == 4500
    assert [int(s) for s in re.findall(r"^step (\d+):", out, re.M)] == [0, 2000, 4000, 4500]


@pytest.mark.slow
def test_memory_stays_flat_in_the_number_of_steps(tmp_path):
    few = run("step", "--steps", "1000", "--every", "1000", "--device", "cpu", cwd=tmp_path)
    many = run("step", "--steps", "40000", "--every", "1e9", "--device", "cpu", cwd=tmp_path)
    assert few.code == many.code == 0
    assert "after 40000 Adam steps" in many.out
    assert many.peak_mb - few.peak_mb < 12, (few.peak_mb, many.peak_mb)  # a loss kept per step: ~30 MB more


# ---------------------------------------------------------------- every option and signal in one line

@pytest.mark.parametrize("argv, problem", [
    (["step", "--every", "0"], "argument --every: must be at least 1, got 0"),
    (["step", "--every", "-1"], "argument --every: must be at least 1, got -1"),
    (["step", "--steps", "-5"], "argument --steps: must be at least 0, got -5"),
    (["export", "x.xlsx", "--steps", "-5"], "argument --steps: must be at least 0, got -5"),
    (["solve", "--device", "bogus"], "argument --device: unknown device 'bogus'; use cpu, cuda or cuda:N"),
    (["solve", "--seed", str(2**64)], f"argument --seed: must be at most {2**53 - 1:,}, got {2**64}"),
    (["step", "--lr", "nan"], "argument --lr: must be a finite number above 0, got nan"),
    (["step", "--weight-decay", "-1"], "argument --weight-decay: must be a finite number at least 0, got -1"),
    (["grid", "--top", "2000"], "argument --top: must be between 5 and 1,000, got 2000"),
    (["solve", "--factors", "0"], "argument --factors/-k: must be between 1 and 1,000, got 0"),
    (["step", "--steps", "1.5"], "argument --steps: expected a whole number, got '1.5'"),
    (["grid", "--sep", "ab"], "argument --sep: expected one character (such as , ; | ), '::', 'tab' or "
                              "'whitespace', got 'ab'"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_options_out_of_range_are_one_line(capsys, argv, problem):
    code, out, err = in_process(capsys, *argv)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err == f"collabsheet {argv[0]}: {problem} (see collabsheet {argv[0]} -h)\n"


@pytest.mark.slow
@pytest.mark.parametrize("argv, wait, where", [
    (["step", "--steps", "1e9", "--every", "1e9"], "step 0", r"at step [1-9]\d*"),
    (["solve", "--top", "600", "--factors", "40"], "sheet, k=40", r"at iteration \d+ of the solve"),
], ids=["step", "solve"])
def test_ctrl_c_is_one_line_and_exit_130(tmp_path, argv, wait, where):
    stopped = run(*argv, "--device", "cpu", cwd=tmp_path, until=wait, send=signal.SIGINT)
    assert stopped.code == 130
    assert re.fullmatch(rf"collabsheet: interrupted {where}; nothing written", stopped.message)
    assert os.listdir(tmp_path) == []


def _feed(path: Path | int, data: bytes) -> threading.Thread:
    """Write data into a FIFO or a pipe's end from another thread, as another program would."""
    def write() -> None:
        with open(path, "wb") as fh:
            fh.write(data)
    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def test_ratings_from_a_fifo_or_standard_input_are_read_once(tmp_path, ratings, monkeypatch):
    expected = load_ratings(ratings).frame
    fifo = tmp_path / "ratings.fifo"
    os.mkfifo(fifo)
    writer = _feed(fifo, ratings.read_bytes())
    assert load_ratings(fifo).frame.equals(expected)  # a second open would wait for a writer that is gone
    writer.join(5)
    read, write = os.pipe()
    writer = _feed(write, ratings.read_bytes())
    monkeypatch.setattr(sys, "stdin", open(read, "r"))
    got = load_ratings("-")
    writer.join(5)
    assert got.frame.equals(expected) and got.name == "standard input"


@pytest.mark.slow
def test_dev_stdin_from_a_pipe(tmp_path, ratings):
    cat = subprocess.Popen(["cat", str(ratings)], stdout=subprocess.PIPE)
    got = run("grid", "--ratings", "/dev/stdin", "--top", "5", cwd=tmp_path, stdin=cat.stdout)
    cat.stdout.close()
    cat.wait(5)
    assert got.code == 0 and "Traceback" not in got.err
    assert "/dev/stdin: top 5 users × 5 movies" in got.out


# ---------------------------------------------------------------- clearer messages

def test_comment_whitespace_and_pipe_lines(tmp_path):
    path = tmp_path / "ratings.txt"
    path.write_text("# exported by a tool, with, commas\n  # an indented comment\nuser|item|rating\n1|10|4\n"
                    "   \n\t\n2|10|3\n# 9|9|9\n1|20|2\n")
    r = load_ratings(path)
    assert r.frame.to_dict("list") == {"user": [1, 2, 1], "item": [10, 10, 20], "rating": [4.0, 3.0, 2.0]}
    path.write_text("# c\nuser,item,rating\n1,10,4\n2,10,x\n")
    with pytest.raises(RatingsError, match=r"line 4 has rating 'x'"):  # line numbers count the comment
        load_ratings(path)


@pytest.mark.parametrize("value", ["1e200", "-1e308"])
def test_ratings_too_large_for_float64_are_refused_before_the_solver(capsys, tmp_path, value):
    path = tmp_path / "big.csv"
    path.write_text("user,item,rating\n" + "".join(f"{u},{i},{value if (u, i) == (3, 4) else 3}\n"
                                                   for u in range(6) for i in range(6)))
    code, out, err = in_process(capsys, "solve", "--ratings", str(path), "--top", "5", "--device", "cpu")
    assert code == 2 and "RMSE" not in out
    line = 2 + 3 * 6 + 4
    assert one_line(err) == (f"collabsheet: {path}: line {line} has rating {float(value):g}, too large to "
                             "compute with; ratings must lie between -1e+50 and 1e+50; fix or delete that line")


def test_a_sheet_with_no_rated_cells_is_refused(capsys, tmp_path):
    path = tmp_path / "apart.csv"  # the busiest users rate only items that nobody else rates much
    rows = [f"{u},{1000 + u * 10 + k},4" for u in range(5) for k in range(9)]
    rows += [f"{100 + v},{i},3" for v in range(6) for i in range(5)]
    path.write_text("user,item,rating\n" + "\n".join(rows) + "\n")
    for command in ("grid", "export"):
        argv = [command, *(["x.xlsx"] if command == "export" else []), "--ratings", str(path), "--top", "5"]
        code, out, err = in_process(capsys, *argv)
        assert code == 2 and out == ""
        assert one_line(err) == ("collabsheet: apart.csv: the 5 most active users and the 5 most rated items share "
                                 "no rating, so the sheet would have no rated cells; choose a larger top-N or ratings "
                                 "where the most active users rate the most rated items (--top N)")


def test_column_messages_name_the_command_line_options(capsys, tmp_path):
    path = tmp_path / "shop.csv"
    path.write_text("customer,product,stars\n" + "".join(f"c{u},p{i},{u % 5 + 1}\n" for u in range(6)
                                                          for i in range(6)))
    code, _, err = in_process(capsys, "grid", "--ratings", str(path), "--top", "5")
    assert code == 2
    assert one_line(err) == (f"collabsheet: {path}: has no user column; the columns are 'customer', 'product', "
                             "'stars'; say which column holds the users (--user-col NAME or a 0-based position)")
    code, out, _ = in_process(capsys, "grid", "--ratings", str(path), "--top", "5", "--user-col", "customer",
                              "--item-col", "1", "--rating-col", "stars")
    assert code == 0 and "top 5 users × 5 movies" in out


@pytest.mark.parametrize("late, fragment", [
    (b"ann,tea,3\x00\n", "contains NUL bytes (line 40002"),
    (b"ann,tea,3" + b",9" * 5_000 + b"\n", "line 40002 has 5003 fields but the other lines have 3"),
], ids=["nul", "ragged-long-line"])
def test_the_whole_file_is_checked_not_its_head(tmp_path, late, fragment):
    path = tmp_path / "big.csv"
    path.write_bytes(b"user,item,rating\n" + b"ann,tea,4\nbob,cof,3\n" * 20_000 + late + b"bob,tea,1\n")
    with pytest.raises(RatingsError) as info:
        load_ratings(path)
    assert fragment in str(info.value)
