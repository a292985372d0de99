#!/usr/bin/env python3
"""Validate every line of an eve.json against Suricata's EVE JSON schema.
Usage: validate_eve.py SCHEMA EVE_JSON   (needs python3-jsonschema)"""
import json, sys
try:
    import jsonschema
except ImportError:
    sys.exit("validate_eve.py: python jsonschema missing (apt-get install -y python3-jsonschema)")
schema = json.load(open(sys.argv[1]))
validator = jsonschema.Draft7Validator(schema) if hasattr(jsonschema, "Draft7Validator") else None
bad = 0
n = 0
for i, line in enumerate(open(sys.argv[2]), 1):
    n += 1
    rec = json.loads(line)
    errs = list(validator.iter_errors(rec)) if validator else []
    for e in errs[:3]:
        bad += 1
        print("line %d: %s at %s" % (i, e.message, "/".join(map(str, e.path))))
print("%d records, %d errors" % (n, bad))
sys.exit(1 if bad else 0)
