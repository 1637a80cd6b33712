"""Validates an in-toto Statement v1 file with the in-toto-attestation package (the reference
Python bindings): parsed strictly into the Statement protobuf, then Statement.validate().
Prints the subjects as JSON ({name: sha256}) so the caller can compare them with the report.
Exits 1 with the reason when the file is not a valid statement."""

import json
import sys

from google.protobuf import json_format
from in_toto_attestation.v1 import statement, statement_pb2


def main(path: str) -> int:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        pb = json_format.Parse(text, statement_pb2.Statement())
        statement.Statement.copy_from_pb(pb).validate()
    except Exception as e:  # noqa: BLE001 - any failure is a verdict to report
        print(f"invalid statement: {e}", file=sys.stderr)
        return 1
    subjects = {s.name: s.digest["sha256"] for s in pb.subject}
    print(json.dumps({"predicateType": pb.predicate_type, "subjects": subjects}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
