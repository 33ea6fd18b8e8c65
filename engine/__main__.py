"""`python -m engine ...`: the command line without the GUI (e.g. on a headless GPU server)."""
import sys

from engine.cli.main import main

sys.exit(main())
