"""Reads a JUnit XML file with junitparser and prints what it found as JSON, so the Rust test
can compare it with the report: {"tests", "failures", "suites": [...], "cases": [...]}."""
import json
import sys

from junitparser import Failure, JUnitXml

xml = JUnitXml.fromfile(sys.argv[1])
cases = []
suites = []
for suite in xml:
    suites.append({"name": suite.name, "tests": suite.tests, "failures": suite.failures})
    for case in suite:
        failures = [r for r in case.result if isinstance(r, Failure)]
        cases.append(
            {
                "classname": case.classname,
                "name": case.name,
                "failed": bool(failures),
                "message": failures[0].message if failures else None,
                "text": failures[0].text if failures else None,
            }
        )
print(json.dumps({"tests": xml.tests, "failures": xml.failures, "suites": suites, "cases": cases}))
