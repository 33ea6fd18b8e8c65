"""`python -m collabsheet.gui`: open the collabsheet window."""
from collabsheet.gui.app import main

raise SystemExit(main())
