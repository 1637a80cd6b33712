"""Parses an OpenMetrics text file with prometheus_client's strict OpenMetrics parser and prints
every sample as JSON ([name, labels, value]); a file the parser refuses exits non-zero."""
import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families

with open(sys.argv[1], encoding="utf-8") as f:
    text = f.read()
out = []
for family in text_string_to_metric_families(text):
    for sample in family.samples:
        out.append({"family": family.name, "type": family.type, "unit": family.unit,
                    "name": sample.name, "labels": sample.labels, "value": sample.value})
print(json.dumps(out))
