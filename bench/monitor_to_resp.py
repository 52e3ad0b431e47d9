#!/usr/bin/env python3
"""Turns `redis-cli MONITOR` output into two command streams for
`redis-cli --pipe`: everything before the commit-cost probe's first
`INFO commandstats` (the setup), and everything up to its second (the setup
and the withdrawals). Commands a script ran (`[0 lua]`) are left out, since
replaying the script runs them again, and so are those that would change how
the replaying connection reads (subscriptions, `HELLO`, `CLIENT`).

Usage: monitor_to_resp.py MONITOR_LOG OUT_DIR  (writes setup.resp, full.resp)
"""

import re
import sys

SKIPPED = {b"SUBSCRIBE", b"SSUBSCRIBE", b"PSUBSCRIBE", b"HELLO", b"CLIENT", b"MONITOR", b"INFO", b"QUIT"}
ESCAPES = {ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t", ord("a"): b"\a", ord("b"): b"\b",
           ord('"'): b'"', ord("\\"): b"\\"}
LINE = re.compile(rb'^\d+\.\d+ \[\d+ ([^\]]+)\] (.*)$')


def arguments(text: bytes) -> list:
    """The quoted arguments of one MONITOR line, unescaped (sdscatrepr's escapes)."""
    args, at = [], 0
    while at < len(text):
        if text[at] != ord('"'):
            at += 1
            continue
        at += 1
        arg = bytearray()
        while text[at] != ord('"'):
            if text[at] == ord("\\"):
                code = text[at + 1]
                if code == ord("x"):
                    arg.append(int(text[at + 2:at + 4], 16))
                    at += 4
                else:
                    arg += ESCAPES[code]
                    at += 2
            else:
                arg.append(text[at])
                at += 1
        args.append(bytes(arg))
        at += 1
    return args


def resp(args: list) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)


def main() -> None:
    log, out_dir = sys.argv[1], sys.argv[2]
    parts, infos = [[]], 0
    with open(log, "rb") as lines:
        for line in lines:
            found = LINE.match(line.rstrip(b"\r\n"))
            if not found or found.group(1) == b"lua":
                continue
            args = arguments(found.group(2))
            name = args[0].upper()
            if name == b"INFO" and len(args) > 1 and args[1].lower() == b"commandstats":
                infos += 1
                if infos == 1:
                    parts.append([])
                if infos == 2:
                    break
                continue
            if name not in SKIPPED:
                parts[-1].append(resp(args))
    if infos < 2:
        sys.exit(f"{log}: expected the probe's two INFO commandstats, found {infos}")
    with open(f"{out_dir}/setup.resp", "wb") as setup:
        setup.write(b"".join(parts[0]))
    with open(f"{out_dir}/full.resp", "wb") as full:
        full.write(b"".join(parts[0] + parts[1]))
    print(f"setup: {len(parts[0])} commands, withdrawals: {len(parts[1])} commands")


if __name__ == "__main__":
    main()
