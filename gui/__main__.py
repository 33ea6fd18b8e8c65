"""`python -m gui`: open the collabsheet window."""
from gui.app import main

raise SystemExit(main())
