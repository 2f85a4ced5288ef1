import sys

from vpnguard.gui.app import main

sys.exit(main())
