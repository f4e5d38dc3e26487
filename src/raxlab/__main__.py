import sys

from raxlab.cli.main import main

sys.exit(main())
