#!/usr/bin/env python3
"""Prints the compiler's warnings and errors from cargo's JSON messages (`--message-format=json`)
and exits 1 if there is any: the verdict of scripts/test.sh's lint checks.

Dependencies are compiled with `--cap-lints allow`, so every warning here is a workspace
crate's: clippy's lints (the workspace's `[workspace.lints]`) and rustc's."""
import json
import re
import sys

SUMMARY = re.compile(r"^\d+ warnings? emitted|^aborting due to")

count = 0
with open(sys.argv[1], encoding="utf-8") as messages:
    for line in messages:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if message.get("reason") != "compiler-message":
            continue
        diagnostic = message["message"]
        if diagnostic["level"] not in ("warning", "error") or SUMMARY.match(diagnostic["message"]):
            continue
        count += 1
        target = message.get("target", {}).get("name", "?")
        sys.stdout.write(f"[{target}] {diagnostic['rendered']}")
if count:
    print(f"{count} warning(s) or error(s) in workspace crates: fix them, or allow a lint in "
          "[workspace.lints] with the reason")
    sys.exit(1)
print("no warnings")
