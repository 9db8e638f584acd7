"""Print the API's OpenAPI document (no server, no database connection needed)."""

import json
import sys

from preempt.api.app import create_app
from preempt.config import load_settings

json.dump(create_app(load_settings()).openapi(), sys.stdout, indent=1, sort_keys=True)
sys.stdout.write("\n")
