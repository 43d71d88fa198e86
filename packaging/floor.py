"""The benchmark's floor: the least a frozen Python helper that speaks JSON can do."""

import json
import sys

sys.stdout.write(json.dumps({"ServerURL": sys.stdin.read().strip()}) + "\n")
