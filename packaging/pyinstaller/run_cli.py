import sys

from vpnguard.cli import main

sys.exit(main())
