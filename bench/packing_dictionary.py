#!/usr/bin/env python3
"""Builds a packing dictionary for the Redis store (src/store/redis/packing.rs)
from a `redis-cli MONITOR` recording of walletgate at work (the HTTP suite on
Redis, say): one typical value of each kind a partition commit writes (the
record; journal entries by kind; documents and expiring documents by name;
events by type), the median-sized of its kind, one per line, the commonest
kinds last (zstd reaches nearer content more cheaply). zstd reads the result
as raw content. A dictionary in use never changes: a new one takes the next
number in packing.rs.

Usage: packing_dictionary.py MONITOR_LOG > dictionary-N.json
"""

import collections
import json
import sys

from monitor_to_resp import LINE, arguments

# Kinds seen fewer times than this are left out (the suite's oddities).
SEEN_AT_LEAST = 3
# Texts shorter than this are never packed (packing.rs's PACKED_FROM).
PACKED_FROM = 96


def field(text: bytes, name: str) -> str:
    try:
        return str(json.loads(text).get(name, "?"))
    except (ValueError, AttributeError):
        return "?"


def record_kind(record: bytes) -> str:
    """Records apart by what most changes their text: a binding held or not."""
    return "record with a binding" if b'"bindings":[{' in record else "record"


def reply_kind(name: bytes, body: bytes) -> str:
    """Saved replies apart by what they answered (a withdrawal held, a transfer, ...)."""
    try:
        outcome = json.loads(body).get("outcome")
        what = outcome.get("outcome") if isinstance(outcome, dict) else None
        what = what or ",".join(sorted(outcome)) if isinstance(outcome, dict) else "?"
    except (ValueError, AttributeError):
        what = "?"
    return "expiring " + name.split(b":")[0].decode() + " " + str(what)


def values(log: str) -> dict:
    """The texts a recording's partition commits and creations wrote, by kind."""
    kinds = collections.defaultdict(list)
    with open(log, "rb") as lines:
        for line in lines:
            found = LINE.match(line.rstrip(b"\r\n"))
            if not found or found.group(1) == b"lua" or b'"EVALSHA"' not in line[:80]:
                continue
            args = arguments(found.group(2))
            count = int(args[2])
            keys, argv = args[3:3 + count], args[3 + count:]
            if count >= 5 and len(argv) >= 9 and len(argv[3]) == 16:
                # commit_partition.lua: the shape's seven counts say where each part lies.
                shape = argv[3]
                entries, puts, deletes, events, expiring = (shape[2 * i] * 256 + shape[2 * i + 1] for i in range(5))
                kinds[record_kind(argv[2])].append(argv[2])
                at = 9
                for entry in argv[at:at + entries]:
                    kinds["entry " + field(entry, "kind")].append(entry)
                at += entries
                for name, body in zip(argv[at:at + 2 * puts:2], argv[at + 1:at + 2 * puts:2]):
                    kinds["document " + name.split(b":")[0].decode()].append(body)
                at += 2 * puts + deletes
                for event in argv[at:at + events]:
                    kinds["event " + field(event, "type")].append(event)
                at += events
                for name, body in zip(argv[at:at + 2 * expiring:2], argv[at + 1:at + 2 * expiring:2]):
                    kinds[reply_kind(name, body)].append(body)
            elif count == 3 and keys[0].endswith(b":account") and argv[1:2] and argv[1].startswith(b"{"):
                # create_partition.lua: the record and its opening entries.
                kinds[record_kind(argv[1])].append(argv[1])
                for entry in argv[2:]:
                    kinds["entry " + field(entry, "kind")].append(entry)
    return kinds


def main() -> None:
    kinds = values(sys.argv[1])
    chosen = []
    for texts in sorted(kinds.values(), key=len):
        texts = sorted(text for text in texts if text.startswith(b"{"))
        if len(texts) < SEEN_AT_LEAST:
            continue
        texts.sort(key=len)
        typical = texts[len(texts) // 2]
        if len(typical) >= PACKED_FROM:
            chosen.append(typical)
    sys.stdout.buffer.write(b"\n".join(chosen) + b"\n")


main()
