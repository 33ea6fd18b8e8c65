"""`export OUT.xlsx` and `import IN.xlsx`: the sheet to Excel and back."""
from __future__ import annotations

import argparse
from pathlib import Path

from collabsheet.engine.cli.options import MAX_COUNT, device_option, model, optimizer, say, stoppable, whole, xlsx_path
from collabsheet.engine.cli.sheet import advance, ratings_path, sheet_of, solve
from collabsheet.engine.config import OptimizerSettings
from collabsheet.engine.device import device_label
from collabsheet.engine.xlsx import export_xlsx
from collabsheet.engine.xlsx.open import import_workbook
from collabsheet.engine.xlsx.save import check_target


def register(sub) -> None:
    """Add export and import to the parser's subparsers."""
    export = sub.add_parser("export", help="write the sheet as an Excel workbook, ready for Solver")
    export.add_argument("out", metavar="OUT.xlsx", type=xlsx_path)
    model(export)
    first = export.add_mutually_exclusive_group()
    first.add_argument("--solve", action="store_true", help="solve the sheet before writing it")
    first.add_argument("--steps", type=whole(0), default=0, metavar="N",
                       help=f"run N gradient-descent steps first (0-{MAX_COUNT:,})")
    optimizer(export)
    export.add_argument("--onehot", action="store_true",
                        help="add the course's movielens_1hot and movielens_emb sheets: the ratings in long form, "
                             "their activations as one-hot rows times the factor matrices and as lookups by index, "
                             "live over the Sheet's factors (their losses equal the Sheet's)")
    export.set_defaults(run=_export)
    imp = sub.add_parser("import", help="read a workbook back and compare its loss with the engine's")
    imp.add_argument("path", metavar="IN.xlsx")
    imp.add_argument("--sheet", metavar="NAME", default=None,
                     help="in a workbook laid out as the lesson's (collab_filter.xlsx): the collab sheet to read: "
                          "a crosstab sheet (dotprod, bias) or a long sheet with a row per rating (movielens_1hot, "
                          "movielens_emb); default: the first that fits")
    imp.add_argument("--solve", action="store_true",
                     help="then solve the imported sheet and print its loss beside the workbook's and the engine's")
    device_option(imp)
    imp.set_defaults(run=_import)


def _import(args: argparse.Namespace) -> int:
    """Read a workbook, rebuild the sheet, and print the workbook's loss beside the recomputed one."""
    book = import_workbook(args.path, args.sheet)
    sheet = book.to_sheet(args.device)
    config = sheet.config
    origin = f"exported {book.exported} at step {book.step}" if book.exported else "laid out as the lesson's sheet"
    say(f"{Path(args.path).name}: {book.grid.name or 'ratings'} · {sheet.n_users}×{sheet.n_items} sheet, "
        f"k={config.k}{', biases' if config.biases else ''}{', squashed' if config.squash else ''} · {origin}")
    for note in book.notes:
        say(f"note: {note}")
    ours = sheet.rmse()
    if book.workbook_loss is None:
        say("workbook loss (RMSE): not calculated yet (open the workbook in Excel or LibreOffice and save it)")
    else:
        say(f"workbook loss (RMSE): {book.workbook_loss:.9f}")
    say(f"engine loss (RMSE):   {ours:.9f} recomputed from the workbook's ratings and factors "
        f"({device_label(sheet.device)})")
    if book.workbook_loss is not None:
        say(f"difference:           {book.workbook_loss - ours:+.3e}")
    if args.solve:
        result = solve(sheet)
        say(f"solved loss (RMSE):   {result.rmse:.9f} ({result.iterations} iterations, {result.ending})")
    return 0


def _export(args: argparse.Namespace) -> int:
    """Check where the workbook goes, optionally solve or step the sheet, then write it."""
    source = ratings_path(args)
    keep = [source] if source and source != "-" else []
    check_target(args.out, keep)  # before the work: a folder that cannot be written, the ratings file itself …
    sheet = sheet_of(args)
    if args.solve:
        solve(sheet)
    elif args.steps:
        sheet.set_optimizer(OptimizerSettings(args.optimizer, lr=args.lr, weight_decay=args.weight_decay))
        if advance(sheet, args.steps):
            say(f"diverged — learning rate {args.lr} is too high; writing the last good factors")
    with stoppable(lambda: f"at step {sheet.steps}"):
        export_xlsx(sheet.snapshot(), args.out, keep, long_sheets=args.onehot)
    done = "solved" if args.solve else f"after {sheet.steps} steps" if sheet.steps else "initial factors"
    say(f"wrote {args.out}: RMSE {sheet.rmse():.9f} ({done})")
    return 0
