"""`export OUT.xlsx` and `import IN.xlsx`: the sheet to Excel and back."""
from __future__ import annotations

import argparse
from pathlib import Path

from engine.cli.options import model
from engine.cli.sheet import sheet_of
from engine.config import OPTIMIZERS, OptimizerSettings
from engine.device import device_label
from engine.xlsx import export_xlsx, import_xlsx


def register(sub) -> None:
    """Add export and import to the parser's subparsers."""
    export = sub.add_parser("export", help="write the sheet as an Excel workbook, ready for Solver")
    export.add_argument("out", metavar="OUT.xlsx")
    model(export)
    first = export.add_mutually_exclusive_group()
    first.add_argument("--solve", action="store_true", help="solve the sheet before writing it")
    first.add_argument("--steps", type=int, default=0, metavar="N", help="run N gradient-descent steps first")
    export.add_argument("--optimizer", choices=OPTIMIZERS, default="adam")
    export.add_argument("--lr", type=float, default=0.05, help="learning rate")
    export.add_argument("--weight-decay", type=float, default=0.0)
    export.set_defaults(run=_export)
    imp = sub.add_parser("import", help="read a workbook back and compare its loss with the engine's")
    imp.add_argument("path", metavar="IN.xlsx")
    imp.add_argument("--device", default=None, help="cpu, cuda, cuda:1 … (default: CUDA if available)")
    imp.set_defaults(run=_import)


def _import(args: argparse.Namespace) -> int:
    """Read a workbook, rebuild the sheet, and print the workbook's loss beside the recomputed one."""
    book = import_xlsx(args.path)
    sheet = book.to_sheet(args.device)
    config = sheet.config
    print(f"{Path(args.path).name}: {book.grid.name or 'ratings'} · {sheet.n_users}×{sheet.n_items} sheet, "
          f"k={config.k}{', biases' if config.biases else ''}{', squashed' if config.squash else ''} · "
          f"exported {book.exported} at step {book.step}")
    for note in book.notes:
        print(f"note: {note}")
    ours = sheet.rmse()
    if book.workbook_loss is None:
        print("workbook loss (RMSE): not calculated yet (open the workbook in Excel or LibreOffice and save it)")
    else:
        print(f"workbook loss (RMSE): {book.workbook_loss:.9f}")
    print(f"engine loss (RMSE):   {ours:.9f} recomputed from the workbook's ratings and factors "
          f"({device_label(sheet.device)})")
    if book.workbook_loss is not None:
        print(f"difference:           {book.workbook_loss - ours:+.3e}")
    return 0


def _export(args: argparse.Namespace) -> int:
    """Optionally solve or step the sheet, then write it as a workbook."""
    sheet = sheet_of(args)
    if args.solve:
        sheet.solve()
    elif args.steps:
        sheet.set_optimizer(OptimizerSettings(args.optimizer, lr=args.lr, weight_decay=args.weight_decay))
        if sheet.step(args.steps).diverged:
            print(f"diverged — learning rate {args.lr} is too high; writing the last good factors")
    export_xlsx(sheet.snapshot(), args.out)
    done = "solved" if args.solve else f"after {sheet.steps} steps" if sheet.steps else "initial factors"
    print(f"wrote {args.out}: RMSE {sheet.rmse():.9f} ({done})")
    return 0
