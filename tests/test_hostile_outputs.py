"""Hostile cases for every command that writes or prints: the rules export follows, held by all of them.

Every input is built here. Each output-writing option of every command is enumerated from the parser itself, so an
option added later without going through engine.safe_write fails here; so does a print() outside the one printing
module.
"""
from __future__ import annotations

import ast
import errno
import os
import signal
import stat
import sys
from pathlib import Path

import pytest
import torch

from small_data import write_ratings
from collabsheet.engine import safe_write
from collabsheet.engine.cli import main as cli
from collabsheet.engine.cli.terminal import printable
from collabsheet.engine.data import source as ratings_source
from collabsheet.engine.data.ratings import RatingsError, load_ratings
from collabsheet.engine.xlsx.lesson.formulas import MAX_NESTING, FormulaError, parse
from tests.test_hostile import CONTROL, changed, files, in_process, one_line, run

ROOT = Path(__file__).resolve().parents[1]
EVIL = "\x1b]0;owned\x07\x1b[2J\u202e"


@pytest.fixture
def ratings(tmp_path) -> Path:
    """Enough ratings for a one-epoch training run with a small batch."""
    return write_ratings(tmp_path / "ratings.csv", 24, 19, seed=5, keep=0.7)


@pytest.fixture
def xy(tmp_path) -> Path:
    path = tmp_path / "xy.csv"
    path.write_text("x,y\n" + "".join(f"{x},{2 * x + 30}\n" for x in range(1, 12)))
    return path


# ---------------------------------------------------------------- every output, enumerated

# command, option dest → the argv that writes target T from the inputs R (ratings) and C (x, y CSV)
OUTPUTS = {
    ("export", "out"): lambda t, r, c: ["export", t, "--ratings", r, "--top", "5", "--device", "cpu"],
    ("train", "save"): lambda t, r, c: ["train", "--ratings", r, "--epochs", "1", "--bs", "32", "--device", "cpu",
                                        "--save", t],
    ("train", "plot"): lambda t, r, c: ["train", "--ratings", r, "--epochs", "1", "--bs", "32", "--device", "cpu",
                                        "--plot", t],
    ("graddesc", "rows_csv"): lambda t, r, c: ["graddesc", "--csv", c, "--epochs", "1", "--rows-csv", t],
    ("graddesc", "export"): lambda t, r, c: ["graddesc", "--csv", c, "--epochs", "1", "--export", t],
}
SUFFIX = {("export", "out"): ".xlsx", ("train", "save"): ".pt", ("train", "plot"): ".png", ("graddesc", "rows_csv"): ".csv",
          ("graddesc", "export"): ".xlsx"}


def _subparsers():
    top = cli.parser()
    action = next(a for a in top._actions if a.__class__.__name__ == "_SubParsersAction")
    return action.choices


def test_every_output_option_is_listed_here():
    """An option names an output when its metavar starts with OUT or its help says it writes or saves."""
    found = set()
    for command, sub in _subparsers().items():
        for action in sub._actions:
            metavar = str(action.metavar or "")
            says = (action.help or "").lower().startswith(("write", "save"))
            if metavar.startswith("OUT") or says:
                assert metavar.startswith("OUT"), (command, action.dest)  # the convention the check relies on
                found.add((command, action.dest))
    assert found == set(OUTPUTS)


def _hostile(kind: str, folder: Path, key, ratings: Path, xy: Path) -> tuple[Path, str]:
    """A target of this kind for the output `key`, and what the one-line refusal says."""
    target = folder / f"out{SUFFIX[key]}"
    victim = folder / "victim.txt"
    victim.write_text("keep me")
    if kind == "symlink":
        target.symlink_to(victim)
        return target, "is a symbolic link"
    if kind == "fifo":
        os.mkfifo(target)
        return target, "is a FIFO (named pipe)"
    if kind == "folder":
        target.mkdir()
        return target, "is a folder"
    if kind == "read-only":
        target.write_text("an earlier result")
        target.chmod(0o444)  # refused even as root: the mode is the user's intent
        return target, "is read-only"
    if kind == "missing-folder":
        return folder / "missing" / target.name, "the folder"
    if kind == "own-input":  # the input itself, or a hard link to it with the output's ending
        source = xy if key[0] == "graddesc" else ratings
        if source.suffix == SUFFIX[key]:
            return source, "this"
        os.link(source, target)
        return target, "this"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["symlink", "fifo", "folder", "read-only", "missing-folder", "own-input"])
@pytest.mark.parametrize("key", list(OUTPUTS), ids=lambda k: f"{k[0]}-{k[1]}")
def test_every_output_refuses_what_export_refuses(capsys, tmp_path, ratings, xy, key, kind):
    target, says = _hostile(kind, tmp_path, key, ratings, xy)
    before = files(tmp_path)
    code, out, err = in_process(capsys, *OUTPUTS[key](str(target), str(ratings), str(xy)))
    assert code == 2, err
    assert out == ""  # refused before any work: nothing trained, no epoch run, no data read
    message = one_line(err)
    assert target.name in message and says in message, message
    assert changed(before, files(tmp_path)) == set()


@pytest.mark.parametrize("key", list(OUTPUTS), ids=lambda k: f"{k[0]}-{k[1]}")
def test_every_output_is_written_whole_past_a_planted_temporary_name(capsys, tmp_path, ratings, xy, key):
    target = tmp_path / f"out{SUFFIX[key]}"
    target.write_bytes(b"an earlier result")
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    for planted in (f".{target.name}.tmp", f".{target.name}.part"):  # the predictable names of older code
        (tmp_path / planted).symlink_to(victim)
    code, _, err = in_process(capsys, *OUTPUTS[key](str(target), str(ratings), str(xy)))
    assert code == 0, err
    assert victim.read_text() == "keep me" and target.read_bytes() != b"an earlier result"
    assert stat.S_ISREG(target.lstat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".") and not p.is_symlink()) == []


def test_long_work_waits_for_no_folder(capsys, tmp_path):
    """graddesc --epochs 1000000 into a missing folder is refused before the first epoch."""
    code, out, err = in_process(capsys, "graddesc", "--epochs", "1000000", "--export", str(tmp_path / "no" / "x.xlsx"))
    assert code == 2 and out == ""
    assert one_line(err) == (f"collabsheet: --export x.xlsx: cannot be written (the folder {tmp_path / 'no'} "
                             "does not exist)")


def test_rows_csv_and_export_may_not_name_one_file(capsys, tmp_path):
    code, out, err = in_process(capsys, "graddesc", "--rows-csv", str(tmp_path / "a.xlsx"), "--export",
                                str(tmp_path / "a.xlsx"))
    assert code == 2 and out == "" and "name the same file" in one_line(err)


# ---------------------------------------------------------------- the safe-write module itself

def test_a_full_disk_leaves_the_old_file_and_nothing_else(tmp_path, monkeypatch):
    target = tmp_path / "m.pt"
    target.write_bytes(b"the old model")

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(safe_write.WriteError) as refused:
        safe_write.write_bytes(target, b"x" * 10_000)
    assert str(refused.value) == "m.pt: cannot be written (No space left on device)"
    assert target.read_bytes() == b"the old model" and [p.name for p in tmp_path.iterdir()] == ["m.pt"]


@pytest.mark.parametrize("stop", [KeyboardInterrupt, SystemExit])
def test_a_stop_while_writing_leaves_nothing_behind(tmp_path, stop):
    target = tmp_path / "rows.csv"
    target.write_text("old")

    def write(fh):
        fh.write(b"half of it")
        raise stop()

    with pytest.raises(stop):
        safe_write.write_file(target, write)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["rows.csv"]


def test_temporary_names_are_random_and_exclusive(tmp_path, monkeypatch):
    opened = []
    real_open = os.open

    def spy(path, flags, *rest):
        opened.append((str(path), flags))
        return real_open(path, flags, *rest)

    monkeypatch.setattr(os, "open", spy)
    for _ in range(2):
        safe_write.write_bytes(tmp_path / "a.csv", b"1")
    parts = [(p, f) for p, f in opened if p.endswith(".part")]
    assert len(parts) == 2 and parts[0][0] != parts[1][0]
    assert all(f & os.O_EXCL and f & os.O_CREAT for _, f in parts)


def test_a_replaced_file_keeps_its_permissions(tmp_path):
    target = tmp_path / "a.csv"
    target.write_text("old")
    target.chmod(0o640)
    safe_write.write_bytes(target, b"new")
    assert target.read_bytes() == b"new" and stat.S_IMODE(target.stat().st_mode) == 0o640


# ---------------------------------------------------------------- every print, through one function

def test_nothing_in_the_command_line_prints_around_the_escaping_function():
    """print(), sys.stdout.write and sys.stderr.write appear only in engine/cli/terminal.py."""
    offenders = []
    for path in sorted((ROOT / "engine").rglob("*.py")):
        if path.name == "terminal.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            if isinstance(f, ast.Name) and f.id == "print":
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} print")
            if isinstance(f, ast.Attribute) and f.attr == "write" and isinstance(f.value, ast.Attribute) \
                    and f.value.attr in ("stdout", "stderr"):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {f.value.attr}.write")
    assert offenders == []


def test_files_are_written_only_through_safe_write():
    """No engine or GUI module opens a file for writing, renames one or saves through a library by itself;
    the exceptions write into private temporary folders of their own."""
    private = {"engine/data/movielens.py": 2, "gui/sheet/open_dialog.py": 1}  # downloads, a preview sample
    patterns = ("open(dest, \"wb\")", ".write_bytes(", ".write_text(", "os.replace(", "os.rename(", "torch.save(",
                ".to_csv(", ".to_parquet(", "np.savez(", "wb.save(", "open(fd, \"wb\")")
    counts = {}
    for path in sorted([*(ROOT / "engine").rglob("*.py"), *(ROOT / "gui").rglob("*.py")]):
        rel = str(path.relative_to(ROOT))
        if rel == "engine/safe_write.py":
            continue
        lines = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
        hits = []
        for line in lines:
            code = line.split("  # ")[0]
            if any(p in code for p in patterns) and "lambda fh" not in code and "(buffer)" not in code \
                    and ".to_csv(index=False)" not in code \
                    and '"""' not in code and "through torch.save" not in code:
                hits.append(code.strip())
        if hits:
            counts[rel] = len(hits)
    assert counts == private


def test_names_titles_and_devices_are_escaped_by_every_command(capsys, tmp_path):
    folder = tmp_path / f"d{EVIL}"
    folder.mkdir()
    ratings = folder / f"r{EVIL}.csv"
    rows = [f"u{u}{EVIL},m{i}{EVIL},{(u * i) % 5 + 1}" for u in range(24) for i in range(12)]
    ratings.write_text("user,item,rating\n" + "\n".join(rows) + "\n")
    model = folder / f"m{EVIL}.pt"
    xy = folder / f"xy{EVIL}.csv"
    xy.write_text("x,y\n1,32\n2,34\n3,36\n")
    runs = [["train", "--ratings", str(ratings), "--epochs", "1", "--bs", "32", "--device", "cpu",
             "--save", str(model)],
            ["recommend", "--model", str(model), "--user", f"u1{EVIL}", "-n", "3"],
            ["graddesc", "--csv", str(xy), "--epochs", "1", "--rows-csv", str(folder / f"o{EVIL}.csv")],
            ["race", "--ratings", str(ratings), "--top", "5", "--steps", "5", "--device", "cpu"],
            ["grid", "--ratings", str(folder / f"missing{EVIL}.csv")],
            ["recommend", "--model", str(folder / f"missing{EVIL}.pt"), "--user", "1"],
            ["train", "--device", f"cpu{EVIL}"],
            ["train", "--recipe", f"fast{EVIL}", "--ratings", str(ratings)]]
    for argv in runs:
        code, out, err = in_process(capsys, *argv)
        assert not CONTROL.search(out + err) and "\u202e" not in out + err, (argv, out, err)
        assert "\\x1b" in out + err, (argv, out, err)  # the name was shown, escaped
        if code:
            one_line(err)
    assert printable("a\u202eb\x9bc") == "a\\u202eb\\x9bc"


# ---------------------------------------------------------------- tracebacks become one line

@pytest.mark.parametrize("argv, says", [
    (["train", "--device", "bogus"], "argument --device: unknown device 'bogus'"),
    (["train", "--device", "meta"], "argument --device: unknown device 'meta'"),
    (["train", "--lr", "1e308"], "argument --lr: must be a finite number above 0 and at most 1e+06, got 1e308"),
    (["train", "--seed", "-1"], "argument --seed: must be at least 0, got -1"),
    (["train", "--seed", str(10**30)], "argument --seed: must be at most"),
    (["solve", "--seed", "-1"], "argument --seed: must be at least 0, got -1"),
    (["graddesc", "--seed", str(10**30)], "argument --seed: should be a whole number from 0"),
    (["graddesc", "--noise", "1e308"], "argument --noise: should be a number from 0 to 1e+100"),
    (["graddesc", "--true-a=-1e308"], "argument --true-a: should be a number within ±1e+100"),
    (["grid", "--ratings", ""], "argument --ratings: expected a file name, got an empty one"),
    (["train", "--ratings", ""], "argument --ratings: expected a file name, got an empty one"),
    (["race", "--optimizers", ",".join(["sgd"] * 2000)], "--optimizers: at most 16 racers in one race"),
], ids=lambda v: " ".join(v)[:40] if isinstance(v, list) else "")
def test_bad_options_are_one_line_naming_the_option(capsys, argv, says):
    code, out, err = in_process(capsys, *argv)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert says in one_line(err)


def test_closed_standard_input_is_one_line(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", None)
    code, out, err = in_process(capsys, "grid", "--ratings", "-")
    assert code == 2 and one_line(err).startswith("collabsheet: standard input: is closed")


def test_a_recursion_error_is_one_line(capsys, monkeypatch):
    monkeypatch.setattr(cli, "run", lambda args: (_ for _ in ()).throw(RecursionError("deep")))
    code, _, err = in_process(capsys, "about")
    assert code == 2 and "nests too deeply" in one_line(err)


@pytest.mark.parametrize("formula", [
    "=SQRT(" + "(" * 5000 + "1" + ")" * 5000 + ")",
    "=" + "-" * 5000 + "1",
    "=" + "+".join(["A1"] * 3000),
], ids=["brackets", "signs", "chain"])
def test_deep_formulas_are_refused_without_recursion(formula):
    with pytest.raises(FormulaError):
        parse(formula)
    assert parse("=" + "(" * MAX_NESTING + "1" + ")" * MAX_NESTING).value == 1.0


def test_a_deeply_nested_loss_formula_is_one_short_line(capsys, tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.title = "dotprod"
    wb.active["A1"] = "=SQRT(SUMXMY2(" + "(" * 3000 + "B2:C3" + ")" * 3000 + ",D2:E3)/COUNT(B2:C3))"
    wb.save(tmp_path / "deep.xlsx")
    code, out, err = in_process(capsys, "import", str(tmp_path / "deep.xlsx"))
    assert code == 2 and out == "" and "is not the loss formula" in one_line(err)


@pytest.mark.slow
def test_closed_stdout_or_stderr_is_not_a_failure(tmp_path, ratings):
    quiet = run("grid", "--ratings", str(ratings), "--top", "5", cwd=tmp_path, preexec=lambda: os.close(1))
    assert quiet.code == 0 and "Traceback" not in quiet.err
    done = run("export", "out.xlsx", "--ratings", str(ratings), "--top", "5", "--device", "cpu", cwd=tmp_path,
               preexec=lambda: os.close(2))
    assert done.code == 0 and (tmp_path / "out.xlsx").is_file() and "wrote out.xlsx" in done.out


# ---------------------------------------------------------------- hangs

def test_a_fifo_with_no_writer_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(ratings_source, "FIFO_WAIT_S", 0.2)
    fifo = tmp_path / "r.fifo"
    os.mkfifo(fifo)
    with pytest.raises(RatingsError, match=r"is a FIFO \(named pipe\) that no program wrote to within 0.2 s"):
        load_ratings(fifo)


def test_a_ten_megabyte_line_is_one_short_line(capsys, tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("user,item,rating" + ",x" * 5_000_000 + "\n")
    code, out, err = in_process(capsys, "grid", "--ratings", str(path))
    assert code == 2 and len(one_line(err)) < 400


# ---------------------------------------------------------------- model files

@pytest.fixture
def model(tmp_path, ratings, capsys) -> Path:
    path = tmp_path / "m.pt"
    code, _, err = in_process(capsys, "train", "--ratings", str(ratings), "--epochs", "1", "--bs", "32", "--device",
                              "cpu", "--save", str(path))
    assert code == 0, err
    return path


@pytest.mark.parametrize("change, says", [
    (lambda p: p.update(users=torch.zeros(1, dtype=torch.long).expand(3_000_000_000)), "not stored in the file"),
    (lambda p: p["state"].update({"u.weight": torch.zeros(1).expand(3_000_000_000, 50)}), "not stored in the file"),
    (lambda p: p.update(users=torch.arange(500)), "does not match the 500 users"),
    (lambda p: p["state"].update({"u.weight": torch.zeros(3, 50)}), "weight u.weight is (3, 50)"),
    (lambda p: p.update(version=EVIL * 100), "model file version"),
], ids=["stride-0 ids", "stride-0 weights", "ids and counts", "weights and ids", "version"])
def test_crafted_model_files_are_one_line(capsys, tmp_path, model, change, says):
    payload = torch.load(model, weights_only=True)
    change(payload)
    crafted = tmp_path / "crafted.pt"
    torch.save(payload, crafted)
    code, out, err = in_process(capsys, "recommend", "--model", str(crafted), "--user", "1")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert says in one_line(err) and not CONTROL.search(err)


# ---------------------------------------------------------------- other

def test_a_blank_or_comment_line_below_the_header_is_fine(tmp_path):
    path = tmp_path / "r.csv"
    for gap in ("\n", "# a note\n", "\n  \n# two\n"):
        path.write_text("user,item,rating\n" + gap + "1,10,4\n2,10,3\n1,20,x\n")
        with pytest.raises(RatingsError, match=f"line {4 + gap.count(chr(10))} has rating 'x'"):
            load_ratings(path)  # line numbers still count the skipped lines
        path.write_text("user,item,rating\n" + gap + "1,10,4\n2,10,3\n1,20,2\n")
        assert load_ratings(path).frame["rating"].tolist() == [4.0, 3.0, 2.0]


@pytest.mark.slow
def test_ctrl_c_during_training_is_130_and_keeps_the_old_model(tmp_path, ratings):
    (tmp_path / "m.pt").write_bytes(b"the old model")
    stopped = run("train", "--ratings", str(ratings), "--epochs", "100000", "--bs", "8", "--device", "cpu",
                  "--save", "m.pt", cwd=tmp_path, until="epoch 1/", send=signal.SIGINT, after=0.3)
    assert stopped.code == 130
    assert stopped.message.startswith("collabsheet: interrupted after ")
    assert stopped.message.endswith("; nothing written (m.pt not saved)")
    assert (tmp_path / "m.pt").read_bytes() == b"the old model"


def test_the_checkpoint_beside_save_is_never_an_input(capsys, tmp_path, ratings):
    """train --save m.pt checkpoints each epoch to m.ckpt: a ratings file of that name is refused before any work."""
    own = tmp_path / "m.ckpt"
    own.write_bytes(ratings.read_bytes())
    code, out, err = in_process(capsys, "train", "--ratings", str(own), "--epochs", "1", "--bs", "32", "--device",
                                "cpu", "--save", str(tmp_path / "m.pt"))
    assert code == 2 and out == "" and own.read_bytes() == ratings.read_bytes()
    assert one_line(err).startswith("collabsheet: --save m.ckpt: is the ratings file this checkpoint is made from")
