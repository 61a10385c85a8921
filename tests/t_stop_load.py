# SPDX-License-Identifier: ISC
"""t_stop_load.py: graceful stop under load.

SIGTERM while 100 clients are mid-stream, each with the start of a
multi-byte character held back and many with output pending, then each
client reads to end of file.  upcased(8): at SIGTERM "each open TCP
connection is answered for the data already received, and closed once
nothing more is owed to it"; what is owed at the end of a connection
includes "any held-back bytes of an incomplete sequence, unchanged"
(PROTOCOL, TCP 3).  So each client must receive exactly py_upper of all it
sent (the complete part upper-cased, the held-back bytes unchanged), and
the daemon must exit 0 before shutdown_timeout runs out: every client
reads, so nothing stays owed.

"Already received" is taken as: in the daemon's socket.  Before the
signal every client waits until its own send queue is empty (SIOCOUTQ 0),
so all its bytes have reached the daemon's side.

Three kinds of client, none of which half-closes:
- answered (30): a few KB, then the start of a character; the client has
  read the reply to the complete part, so the daemon holds only the
  held-back bytes;
- unread (50): up to 64 KB, then the start of a character; the client has
  read nothing (the reply waits in the socket buffers);
- pending (20): a few KB, then 32 KB pieces that upper-case to three
  times their size (ΐ is 2 bytes, its upper case 6), each sent once the
  daemon has read the last, until it stops reading (its side of the
  connection keeps unread input: it waits for the client to take its
  output), then the start of a character.  When the signal comes the
  daemon has output in its socket buffer, in its own buffer, and input it
  has not read yet (seen in /proc/net/tcp).

tests/t_signals.py (Stop) covers the plain cases: 20 clients owed a short
reply, a busy one, refusing new connections during the stop, and
shutdown_timeout cutting off a client that does not read.
"""
import fcntl
import os
import random
import selectors
import signal
import socket
import struct
import termios
import time
import unittest

import harness
from harness import Daemon, py_upper

SEED = int(os.environ.get("TEST_SEED", "12000"))
SHUTDOWN_TIMEOUT = 10
N_ANSWERED, N_UNREAD, N_PENDING = 30, 50, 20
TAILS = [b"\xc3", b"\xe2\x82", b"\xf0\x9f\x98", b"\xce", b"\xf0\x90"]   # starts of ß... € 😀 ΐ 𐐨


def outq(s):
    """Bytes in our send queue not yet acknowledged by the peer."""
    return struct.unpack("i", fcntl.ioctl(s.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]


def inq(s):
    return struct.unpack("i", fcntl.ioctl(s.fileno(), termios.FIONREAD, b"\0" * 4))[0]


def server_queues(port):
    """{client port: (tx_queue, rx_queue)} of the daemon's established
    sockets on port, from /proc/net/tcp."""
    q = {}
    with open("/proc/net/tcp") as f:
        next(f)
        mine = "0100007F:%04X" % port   # 127.0.0.1:port
        for line in f:
            if not line.split(None, 2)[1].endswith(mine):
                continue
            fld = line.split()
            if fld[3] != "01":
                continue
            rport = int(fld[2].split(":")[1], 16)
            tx, rx = (int(x, 16) for x in fld[4].split(":"))
            q[rport] = (tx, rx)
    return q


def text(rng, n):
    alphabet = "abcdefghijklmnopqrstuvwxyz ßéçöñﬁΐŉǆя中😀\n"
    return "".join(rng.choice(alphabet) for _ in range(n)).encode()[:n].decode("utf-8", "ignore").encode()


class Client:
    """data: what it sends before the tail.  A 'pending' client adds
    expanding text to it until the daemon stops reading (settle())."""

    def __init__(self, kind, port, data, tail):
        self.kind = kind
        self.body = data
        self.tail = tail
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.sent = 0
        self.tail_sent = False
        self.got = []
        self.eof = False
        self.error = None
        self.at_signal = 0      # bytes read before the signal
        self.last_rx, self.rx_since = 0, time.monotonic()
        self.last_q, self.q_since = 0, time.monotonic()

    def finish(self):
        """What it sent, and the reply it is owed."""
        self.data = self.body + self.tail
        self.want = py_upper(self.data)
        assert self.want == py_upper(self.body) + self.tail

    def send_some(self, data):
        try:
            self.sent += self.sock.send(data)
        except BlockingIOError:
            pass

    def read_some(self, limit=65536):
        try:
            b = self.sock.recv(limit)
        except BlockingIOError:
            return 0
        if not b:
            raise AssertionError("%s client %d: end of file before the signal" % (self.kind, self.port))
        self.got.append(b)
        return len(b)

    def nread(self):
        return sum(len(b) for b in self.got)


STEP = ("ΐ" * 60 + "ab ").encode() * 266      # 32 KB, 96 KB upper-cased
MAX_BODY = 64 << 20


def settle(clients, port, deadline, stall=0.3):
    """Send each client's data and then its tail; return once every byte
    has reached the daemon (each send queue is empty).

    A 'pending' client sends STEP after STEP, the next only once the
    daemon has read the last (its side holds no unread input), and stops
    when the daemon stops reading: its side has held the same unread input
    for stall seconds, so it waits for output to go out.  Then the tail.
    Should its send queue not empty meanwhile (the daemon's receive window
    is shut), it reads 64 KB of its reply to let the daemon go on."""
    todo = list(clients)
    while todo and time.monotonic() < deadline:
        now = time.monotonic()
        queues = server_queues(port)
        for c in list(todo):
            q = outq(c.sock)
            if q != c.last_q or q == 0:
                c.last_q, c.q_since = q, now
            tx, rx = queues.get(c.port, (0, 0))
            if rx != c.last_rx or rx == 0:
                c.last_rx, c.rx_since = rx, now
            if c.tail_sent:
                if q == 0:
                    todo.remove(c)
            elif c.kind != "pending":
                if c.sent < len(c.body):
                    c.send_some(c.body[c.sent:])
                elif q == 0:
                    c.send_some(c.tail)
                    c.tail_sent = c.sent == len(c.body) + len(c.tail)
            elif q == 0 and rx == 0:
                if len(c.body) > MAX_BODY:
                    raise AssertionError("the daemon read %d bytes without stopping" % len(c.body))
                if c.sent == len(c.body):
                    c.body += STEP
                c.send_some(c.body[c.sent:])
            elif q == 0 and tx > 0 and now - c.rx_since > stall:
                # The daemon has stopped reading: its input stands still
                # and its send queue is full.  (Input standing still alone
                # can be a slow daemon: a sanitizer build, a loaded host.)
                c.send_some(c.tail)
                c.tail_sent = c.sent == len(c.body) + len(c.tail)
            elif c.sent < len(c.body):
                c.send_some(c.body[c.sent:])
            if q and now - c.q_since > 5 * stall:
                c.read_some()            # not expected: the window is shut
                c.q_since = now
        time.sleep(0.003)
    if todo:
        queues = server_queues(port)
        raise AssertionError("%d clients' input never reached the daemon: %s" % (len(todo), "; ".join(
            "%s client %d: %d of %d bytes sent, %d still queued, daemon's side %s"
            % (c.kind, c.port, c.sent, len(c.body) + len(c.tail), outq(c.sock), queues.get(c.port))
            for c in todo[:5])))
    for c in clients:
        c.finish()


class StopUnderLoad(unittest.TestCase):
    def test_sigterm_with_100_clients_mid_stream(self):
        rng = random.Random(SEED)
        harness.raise_nofile(1024)
        with Daemon(extra="shutdown_timeout = %d;" % SHUTDOWN_TIMEOUT) as d:
            clients = []
            for i in range(N_ANSWERED):
                clients.append(Client("answered", d.port, text(rng, rng.randint(1, 8000)),
                                      TAILS[i % len(TAILS)]))
            for i in range(N_UNREAD):
                clients.append(Client("unread", d.port, text(rng, rng.randint(16000, 64000)),
                                      TAILS[i % len(TAILS)]))
            for i in range(N_PENDING):
                clients.append(Client("pending", d.port, text(rng, rng.randint(1, 4000)),
                                      TAILS[i % len(TAILS)]))
            settle(clients, d.port, time.monotonic() + 40)
            for c in clients:
                if c.kind == "answered":        # the reply to the complete part
                    c.sock.setblocking(True)
                    c.sock.settimeout(10)
                    n = len(c.want) - len(c.tail)
                    c.got.append(harness.recv_exactly(c.sock, n))
                    self.assertEqual(c.got[0], c.want[:n], "answered client: wrong reply before the signal")
                    c.sock.setblocking(False)
            time.sleep(0.2)     # the daemon has read what it can
            # Where what is owed waits: daemon's own buffer and unread input,
            # its socket's send queue, our receive queue.
            queues = server_queues(d.port)
            in_daemon = {}
            for c in clients:
                c.at_signal = c.nread()
                tx, rx = queues.get(c.port, (0, 0))
                in_daemon[c] = len(c.want) - c.at_signal - inq(c.sock) - tx
            owed = sum(len(c.want) - c.at_signal for c in clients)
            pending = [c for c in clients if c.kind == "pending"]
            held = sum(1 for c in pending if in_daemon[c] > len(c.tail))
            print("before SIGTERM: %d bytes owed to %d clients; %d bytes of it not yet written by "
                  "upcased (its buffer, and input it has not read); %d of %d 'pending' clients "
                  "with output held in upcased, %d KB unread input on the daemon's side"
                  % (owed, len(clients), sum(in_daemon.values()), held, len(pending),
                     sum(rx for tx, rx in queues.values()) // 1024))
            self.assertGreater(held, len(pending) // 2,
                               "the 'pending' clients do not have output held in upcased: "
                               "the test does not test that")

            t0 = time.monotonic()
            d.send_signal(signal.SIGTERM)
            sel = selectors.DefaultSelector()
            for c in clients:
                sel.register(c.sock, selectors.EVENT_READ, c)
            live = len(clients)
            end = t0 + SHUTDOWN_TIMEOUT + 5
            last_eof = t0
            while live and time.monotonic() < end:
                for key, _ in sel.select(timeout=0.5):
                    c = key.data
                    try:
                        b = c.sock.recv(262144)
                    except BlockingIOError:
                        continue
                    except OSError as e:
                        c.error = str(e)
                        b = b""
                    if b:
                        c.got.append(b)
                        continue
                    c.eof = True
                    last_eof = time.monotonic()
                    sel.unregister(c.sock)
                    live -= 1
            sel.close()
            try:
                rc = d.proc.wait(max(0.1, end - time.monotonic()))
            except Exception:
                rc = None
            stop_s = time.monotonic() - t0
            log = d.read_log()
            short, lost_tail, wrong = [], [], []
            for c in clients:
                got = b"".join(c.got)
                if got == c.want:
                    continue
                if got == c.want[:-len(c.tail)]:
                    lost_tail.append(c)
                elif c.want.startswith(got):
                    short.append(c)
                else:
                    wrong.append(c)
            print("after SIGTERM: %d clients at end of file after %.2f s, upcased exited %s after %.2f s "
                  "(shutdown_timeout %d); %d got all they were owed, %d lost only the held-back bytes, "
                  "%d got less, %d got wrong bytes; 'shutdown_timeout reached' %s"
                  % (len(clients) - live, last_eof - t0, rc, stop_s, SHUTDOWN_TIMEOUT,
                     len(clients) - len(short) - len(lost_tail) - len(wrong), len(lost_tail),
                     len(short), len(wrong), "logged" if "shutdown_timeout reached" in log else "not logged"))
            for c in clients:
                c.sock.close()
            self.assertEqual(wrong, [], "replies that are not a prefix of what was owed")
            self.assertEqual(live, 0, "clients never saw end of file")
            self.assertEqual([(c.kind, c.error) for c in clients if c.error], [],
                             "connections that ended in an error (a reset) rather than end of file")
            self.assertEqual(
                [(c.kind, len(c.tail)) for c in lost_tail], [],
                "connections closed at the stop without their held-back bytes of an incomplete "
                "sequence (kind, bytes lost)")
            self.assertEqual([(c.kind, len(c.want) - c.nread()) for c in short], [],
                             "connections closed at the stop short of what they were owed (kind, bytes)")
            self.assertEqual(rc, 0, "upcased did not exit 0 within shutdown_timeout + 5 s:\n" + log[-3000:])
            self.assertLess(stop_s, SHUTDOWN_TIMEOUT + 2)
            self.assertNotIn("shutdown_timeout reached", log,
                             "every client read all it was owed, yet the stop waited for shutdown_timeout")


if __name__ == "__main__":
    unittest.main()
