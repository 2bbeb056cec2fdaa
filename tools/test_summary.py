#!/usr/bin/python3
"""Counts meson test results from testlog.json files and prints the CI line "N passed, N failed".

A test passes when meson recorded OK or EXPECTEDFAIL; SKIP is listed but counted in neither; any
other result (FAIL, TIMEOUT, ERROR, UNEXPECTEDPASS) is a failure. Exit status 1 when any failed.
"""
import json
import sys


def main(paths):
    passed = failed = skipped = 0
    for path in paths:
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except OSError:
            print(f"{path}: no test log (did the test run start?)")
            failed += 1
            continue
        for line in lines:
            if not line.strip():
                continue
            rec = json.loads(line)
            result = rec.get("result")
            if result in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif result == "SKIP":
                skipped += 1
                print(f"skipped: {rec.get('name')}")
            else:
                failed += 1
                print(f"failed: {rec.get('name')} ({result})")
    if skipped:
        print(f"{skipped} skipped")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
