import sys

from vpnguard.privileged import main

sys.exit(main())
