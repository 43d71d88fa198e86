"""`python -m docker_credential_truss` runs the helper, as the installed command does."""

import sys

from docker_credential_truss.cli import main

sys.exit(main())
