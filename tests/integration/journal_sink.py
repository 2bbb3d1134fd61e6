#!/usr/bin/python3
"""A stand-in for journald's native socket, for tests: bind the datagram
socket at argv[1], then append every entry received, as one JSON object per
line, to argv[2] (fields of the native protocol: NAME=value lines, or NAME
newline, 64-bit little-endian length, value).  Runs until killed."""
import json
import os
import socket
import struct
import sys


def parse(data):
    fields = {}
    while data:
        nl = data.find(b"\n")
        if nl < 0:
            break
        line = data[:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            data = data[nl + 1:]
        else:
            k = line
            (n,) = struct.unpack("<Q", data[nl + 1:nl + 9])
            v = data[nl + 9:nl + 9 + n]
            data = data[nl + 9 + n + 1:]
        fields[k.decode()] = v.decode("utf-8", "replace")
    return fields


def main():
    path, out = sys.argv[1], sys.argv[2]
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    with open(out + ".ready", "w") as f:
        f.write("ready\n")
    while True:
        data, anc, flags, addr = s.recvmsg(1 << 20, socket.CMSG_SPACE(4 * 4))
        if not data:
            # A memfd passed as SCM_RIGHTS carries large entries.
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fd = struct.unpack("i", payload[:4])[0]
                    data = os.pread(fd, 1 << 20, 0)
                    os.close(fd)
        with open(out, "a") as f:
            f.write(json.dumps(parse(data)) + "\n")


if __name__ == "__main__":
    main()
