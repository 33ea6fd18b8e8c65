"""`python -m collabsheet.engine ...`: the command line without the GUI (e.g. on a headless GPU server)."""
import sys

from collabsheet.engine.cli.main import main

sys.exit(main())
