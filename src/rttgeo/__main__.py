import sys

from rttgeo.cli import main

sys.exit(main())
