import sys

from infer.cases.cli import main

sys.exit(main())
