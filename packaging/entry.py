"""The frozen executable's entry point (PyInstaller runs this as __main__)."""

import sys

from docker_credential_truss.cli import main

sys.exit(main())
