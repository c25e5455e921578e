"""`python -m etl_project.cli`."""

import sys

from etl_project.cli import main

sys.exit(main())
