#!/usr/bin/env python3
"""Measures a prototype of the commit script on the traffic that
`bench/commit-cost.sh OUT_DIR` recorded (docs/redis.md, "What a commit
costs"): the recording's `commit_partition.lua` is replaced by SCRIPT (a
whole script, or a `.patch` that `patch` applies to the recorded one), and
every `EVALSHA` of it renamed, optionally without the index entries'
`SET`s, then both the recording and the prototype are replayed into fresh
`redis-server`s, under `valgrind --tool=callgrind` (Redis instructions per
withdrawal) and timed, alternating (`INFO commandstats`: the `EVALSHA` per
call, and the commands the gateway sends per withdrawal, each at its
command's mean time a call).

A prototype only has to do the work a layout would: its text need not be
a store the gateway can run (what it leaves out is for its header to say).

Usage: commit-prototype.py OUT_DIR SCRIPT [--without-index-entries] [--runs N]
(needs redis-server, redis-cli, valgrind)
"""

import argparse
import hashlib
import os
import re
import socket
import subprocess
import time

MARK = b"-- Compare-and-set of one account partition"


def commands(data: bytes):
    """The RESP commands of a recording, as (raw bytes, arguments)."""
    at = 0
    while at < len(data):
        end = data.index(b"\r\n", at)
        count, cursor, args = int(data[at + 1:end]), end + 2, []
        for _ in range(count):
            end = data.index(b"\r\n", cursor)
            length = int(data[cursor + 1:end])
            args.append(data[end + 2:end + 2 + length])
            cursor = end + 4 + length
        yield data[at:cursor], args
        at = cursor


def patched(directory: str, recorded: bytes, patch: str) -> bytes:
    """The recorded script with `patch` applied (`patch` refuses one made against another text)."""
    with open(f"{directory}/recorded.lua", "wb") as original:
        original.write(recorded)
    subprocess.run(["patch", "--quiet", "--force", "-o", f"{directory}/prototype.lua", f"{directory}/recorded.lua",
                    patch], check=True)
    return open(f"{directory}/prototype.lua", "rb").read()


def prototype(out_dir: str, script_path: str, without_index: bool) -> str:
    """Writes the prototype's setup.resp, withdrawals.resp and full.resp; returns their directory."""
    directory = f"{out_dir}/prototype"
    os.makedirs(directory, exist_ok=True)
    setup = open(f"{out_dir}/setup.resp", "rb").read()
    withdrawals = open(f"{out_dir}/withdrawals.resp", "rb").read()
    start = setup.index(MARK)
    header = setup.rindex(b"$", 0, start)
    length = int(setup[header + 1:setup.index(b"\r\n", header)])
    recorded = setup[start:start + length]
    if script_path.endswith(".patch"):
        script = patched(directory, recorded, script_path)
    else:
        script = open(script_path, "rb").read()
    recorded_sha = hashlib.sha1(recorded).hexdigest().encode()
    sha = hashlib.sha1(script).hexdigest().encode()
    setup = (setup[:header] + b"$%d\r\n" % len(script) + script + setup[start + length:]).replace(recorded_sha, sha)
    kept = [raw for raw, args in commands(withdrawals.replace(recorded_sha, sha))
            if not (without_index and args[0].upper() == b"SET" and b":idx:withdrawal_account:" in args[1])]
    withdrawals = b"".join(kept)
    for name, data in (("setup", setup), ("withdrawals", withdrawals), ("full", setup + withdrawals)):
        open(f"{directory}/{name}.resp", "wb").write(data)
    return directory


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server(directory: str, under_valgrind: str = ""):
    port = free_port()
    command = ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", directory]
    if under_valgrind:
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={under_valgrind}"] + command
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        if subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).returncode == 0:
            return port, process
        time.sleep(0.1)
    raise SystemExit("redis-server did not start")


def cli(port: int, *args: str, stdin: str = "") -> str:
    source = open(stdin, "rb") if stdin else None
    try:
        return subprocess.run(["redis-cli", "-p", str(port), *args], stdin=source, capture_output=True).stdout.decode()
    finally:
        if source:
            source.close()


def stop(port: int, process) -> None:
    cli(port, "shutdown", "nosave")
    process.wait()


def instructions(directory: str, withdrawals: int) -> int:
    totals = {}
    for part in ("setup", "full"):
        profile = f"{directory}/{part}.callgrind"
        port, process = server(directory, profile)
        cli(port, "--pipe", stdin=f"{directory}/{part}.resp")
        stop(port, process)
        totals[part] = int(re.search(r"^totals: (\d+)", open(profile).read(), re.M).group(1))
    return (totals["full"] - totals["setup"]) // withdrawals


def timed(directory: str, withdrawals: int):
    """(EVALSHA µs a call, the gateway's commands µs per withdrawal) of one replay."""
    port, process = server(directory)
    cli(port, "--pipe", stdin=f"{directory}/setup.resp")
    cli(port, "config", "resetstat")
    cli(port, "--pipe", stdin=f"{directory}/withdrawals.resp")
    stats = {name: (int(calls), int(usec)) for name, calls, usec in
             re.findall(r"cmdstat_(\S+):calls=(\d+),usec=(\d+)", cli(port, "info", "commandstats"))}
    stop(port, process)
    sent = {}
    for _, args in commands(open(f"{directory}/withdrawals.resp", "rb").read()):
        name = args[0].decode().lower()
        sent[name] = sent.get(name, 0) + 1
    per_call = {name: usec / calls for name, (calls, usec) in stats.items()}
    return per_call["evalsha"], sum(count * per_call.get(name, 0.0) for name, count in sent.items()) / withdrawals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir")
    parser.add_argument("script")
    parser.add_argument("--without-index-entries", action="store_true")
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    withdrawals = int(re.search(r"\((\d+) withdrawals\)", open(f"{options.out_dir}/probe.txt").read()).group(1))
    built = prototype(options.out_dir, options.script, options.without_index_entries)
    for name, directory in (("recorded", options.out_dir), ("prototype", built)):
        print(f"{name}: {instructions(directory, withdrawals)} Redis instructions per withdrawal")
    runs = {"recorded": [], "prototype": []}
    for _ in range(options.runs):
        for name, directory in (("recorded", options.out_dir), ("prototype", built)):
            runs[name].append(timed(directory, withdrawals))
    for name, found in runs.items():
        evalsha = sorted(run[0] for run in found)
        total = sorted(run[1] for run in found)
        print(f"{name}, timed {len(found)} times: EVALSHA {evalsha[0]:.1f}–{evalsha[-1]:.1f} µs a call "
              f"(median {evalsha[len(evalsha) // 2]:.1f}); the gateway's commands {total[0]:.1f}–{total[-1]:.1f} µs "
              f"per withdrawal (median {total[len(total) // 2]:.1f})")


if __name__ == "__main__":
    main()
