#!/usr/bin/env python3
"""Measures what a TCP connection carries per second (standard library only).

  linkrate.py recv ADDRESS PORT        accept one connection, read it to the end, print
                                       "<bytes> <seconds> <bits per second>" (first byte to last)
  linkrate.py send ADDRESS PORT BYTES  connect (retrying for 5 s) and send BYTES zero bytes

Used by deploy/tests/hosts_test.sh to check that a tc-shaped link is held to its rate.
"""
import socket
import sys
import time


def recv(address, port):
    with socket.create_server((address, port)) as server:
        server.settimeout(30)
        conn, _ = server.accept()
        with conn:
            conn.settimeout(30)
            buf = bytearray(1 << 20)
            total = 0
            first = None
            while True:
                n = conn.recv_into(buf)
                if n == 0:
                    break
                if first is None:
                    first = time.monotonic()
                total += n
            seconds = time.monotonic() - first if first is not None else 0.0
    print(f"{total} {seconds:.6f} {total * 8 / seconds if seconds > 0 else 0:.0f}")


def send(address, port, count):
    deadline = time.monotonic() + 5
    while True:
        try:
            conn = socket.create_connection((address, port), timeout=5)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    chunk = bytes(1 << 20)
    with conn:
        conn.settimeout(30)
        left = count
        while left > 0:
            part = chunk if left >= len(chunk) else chunk[:left]
            conn.sendall(part)
            left -= len(part)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "recv":
        recv(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) == 5 and sys.argv[1] == "send":
        send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(__doc__)
