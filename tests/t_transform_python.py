# SPDX-License-Identifier: ISC
"""Black box: the running daemon transforms exactly as Python does.

The reference is harness.py_upper(), Python's own str.upper() with invalid
bytes passed through.  Random text (ASCII, characters of every plane,
invalid and truncated sequences) goes through UDP datagrams and through
one TCP stream cut at random points, some of them inside characters.
Set TEST_SEED to repeat a run with other data.
"""
import os
import random
import socket
import sys
import unittest

import harness
from harness import Daemon, py_upper

SEED = int(os.environ.get("TEST_SEED", "20240611"))
UDP_COUNT = 2000
UDP_MAXLEN = 200
UDP_BIG = (1000, 8000, 16000)   # a few larger datagrams; 3x still fits
TCP_BYTES = 400 * 1024

# Blocks where case mappings are dense (Latin, Greek, Cyrillic, Armenian,
# Greek Extended, Glagolitic, ligatures, fullwidth, Deseret, Adlam).
CASED = [(0x80, 0x800), (0x1E00, 0x2000), (0x2C00, 0x2D30), (0xA640, 0xA800),
         (0xFB00, 0xFB18), (0xFF21, 0xFF5B), (0x10400, 0x10450), (0x1E900, 0x1E960)]
# Lead bytes with a second byte that makes them invalid: overlongs,
# surrogates, above U+10FFFF, bytes that never start anything.
BAD_PAIRS = [(0xC0, 0x80), (0xC1, 0xBF), (0xE0, 0x9F), (0xED, 0xA0), (0xED, 0xBF),
             (0xF0, 0x8F), (0xF4, 0x90), (0xF5, 0x80), (0xFF, 0x41)]


def any_char(rng):
    while True:
        cp = rng.randrange(0x110000)
        if not 0xD800 <= cp < 0xE000:
            return chr(cp).encode()


def invalid(rng):
    r = rng.random()
    if r < 0.35:
        return bytes([rng.randrange(0x80, 0x100)])
    if r < 0.7:
        lead, second = rng.choice(BAD_PAIRS)
        return bytes([lead, second, rng.randrange(0x80, 0xC0)])[:rng.randint(2, 3)]
    full = any_char(rng)
    while len(full) < 2:
        full = any_char(rng)
    return full[:rng.randrange(1, len(full))]   # a prefix cut short


def piece(rng):
    r = rng.random()
    if r < 0.3:
        return bytes([rng.randrange(ord("a"), ord("z") + 1)])
    if r < 0.4:
        return bytes([rng.randrange(0x80)])
    if r < 0.65:
        lo, hi = rng.choice(CASED)
        return chr(rng.randrange(lo, hi)).encode()
    if r < 0.8:
        return any_char(rng)
    return invalid(rng)


def random_bytes(rng, n):
    out = bytearray()
    while len(out) < n:
        out += piece(rng)
    return bytes(out)


def first_diff(a, b):
    n = min(len(a), len(b))
    i = next((k for k in range(n) if a[k] != b[k]), n)
    return "first difference at byte %d of %d/%d: got %r, want %r" % (
        i, len(a), len(b), a[max(0, i - 8):i + 8], b[max(0, i - 8):i + 8])


def udp_ask(port, data, tries=3):
    """One datagram, one reply; a fresh socket per try so a late reply to
    an earlier try can never be taken for this one."""
    for _ in range(tries):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(5.0)
            s.connect(("127.0.0.1", port))
            s.send(data)
            try:
                return s.recv(70000)
            except socket.timeout:
                continue
    raise AssertionError("no UDP reply to %d bytes after %d tries" % (len(data), tries))


def cut_points(rng, data):
    """Chunk ends 1..4096 bytes apart; about a third moved inside a character."""
    cuts, at, inside = [], 0, 0
    while at < len(data):
        end = min(len(data), at + rng.randint(1, 4096))
        if rng.random() < 0.35:
            # Move the cut to just before a continuation byte that
            # follows a lead or another continuation: mid-character.
            k = end
            while k < min(len(data), end + 64) and not (
                    0x80 <= data[k] < 0xC0 and data[k - 1] >= 0x80):
                k += 1
            if k < len(data) and k > at and 0x80 <= data[k] < 0xC0:
                end = k
                inside += 1
        cuts.append(end)
        at = end
    return cuts, inside


class TransformPython(unittest.TestCase):
    def test_daemon_matches_python(self):
        sys.stderr.write("t_transform_python: seed %d (set TEST_SEED to change)\n" % SEED)
        rng = random.Random(SEED)
        with Daemon() as d:
            self.check_udp(d.port, rng)
            self.check_tcp(d.port, rng)
            self.assertEqual(d.stop(), 0, d.read_log())

    def check_udp(self, port, rng):
        inputs = [random_bytes(rng, rng.randint(0, UDP_MAXLEN)) for _ in range(UDP_COUNT)]
        inputs += [random_bytes(rng, n) for n in UDP_BIG]
        inputs.append(b"")
        for i, data in enumerate(inputs):
            want = py_upper(data)
            got = udp_ask(port, data)
            if got != want:
                self.fail("UDP datagram %d (seed %d) %r: %s"
                          % (i, SEED, data[:64], first_diff(got, want)))

    def check_tcp(self, port, rng):
        data = random_bytes(rng, TCP_BYTES)
        cuts, inside = cut_points(rng, data)
        self.assertGreater(inside, 10, "too few cuts inside characters")
        chunks = [data[a:b] for a, b in zip([0] + cuts[:-1], cuts)]
        got = harness.tcp_stream(port, chunks, pause_every=64)
        want = py_upper(data)
        if got != want:
            self.fail("TCP stream (seed %d, %d chunks): %s"
                      % (SEED, len(cuts), first_diff(got, want)))


if __name__ == "__main__":
    unittest.main()
