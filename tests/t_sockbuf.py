# SPDX-License-Identifier: ISC
"""Kernel memory per TCP connection: tcp.send_buffer and tcp.receive_buffer
cap the socket buffers every accepted connection inherits, so clients that
send but never read cannot make the kernel autotune each connection's
buffers up to several MiB (upcased.conf(5), LIMITS)."""
import os
import re
import signal
import socket
import time
import unittest

import harness
from harness import Daemon, make_conf

CLIENTS = 100
CLIENT_BUF = 8192       # our own sockets' buffers (the kernel doubles them)


def sample_default(name):
    """A setting of the group tcp as etc/upcased.conf shows it (test_conf_doc
    holds that file to the settings table's defaults)."""
    with open(os.path.join(harness.TOP, "etc", "upcased.conf")) as f:
        text = f.read()
    group = re.search(r"^tcp = \{(.*?)^\};", text, re.M | re.S).group(1)
    return int(re.search(r"^\s*%s = (\d+);" % name, group, re.M).group(1))


def small_client(port):
    """A client whose own kernel buffers are small and fixed, so that what
    grows is the daemon's side."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, CLIENT_BUF)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, CLIENT_BUF)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    return s


def fill_all(conns, settle=1.0, limit=40.0):
    """Send on every connection until none has taken anything for settle
    seconds: the daemon's buffers, and ours, are full.  Returns bytes sent."""
    chunk = b"a" * 65536
    sent = 0
    last = time.monotonic()
    deadline = last + limit
    while time.monotonic() < deadline:
        moved = False
        for s in conns:
            try:
                sent += s.send(chunk)
                moved = True
            except BlockingIOError:
                pass
        if moved:
            last = time.monotonic()
        elif time.monotonic() - last >= settle:
            return sent
        else:
            time.sleep(0.01)
    raise AssertionError("the daemon never stopped taking data")


class NeverReaders(unittest.TestCase):
    def test_kernel_memory_is_bounded_by_the_settings(self):
        snd, rcv = sample_default("send_buffer"), sample_default("receive_buffer")
        self.assertGreater(snd, 0)
        self.assertGreater(rcv, 0)
        # The kernel doubles each value; our side holds twice CLIENT_BUF
        # twice.  Three times that, for the slack of the kernel's
        # accounting and for the tests running beside this one.
        per_conn = 2 * (snd + rcv) + 4 * CLIENT_BUF
        bound = 3 * CLIENTS * per_conn
        page = os.sysconf("SC_PAGE_SIZE")
        harness.raise_nofile(4 * CLIENTS)
        with Daemon() as d:
            time.sleep(0.3)
            before = harness.tcp_mem_pages()
            conns = [small_client(d.port) for _ in range(CLIENTS)]
            try:
                sent = fill_all(conns)
                time.sleep(0.3)
                grown = (harness.tcp_mem_pages() - before) * page
                skmem = harness.server_skmem(d.port)
            finally:
                for s in conns:
                    s.close()
            print("%d never-reading clients: %.1f MiB sent, TCP memory grew %.1f MiB "
                  "(%.0f KiB a connection; bound %.1f MiB, worst case %.0f KiB a connection)"
                  % (CLIENTS, sent / 2**20, grown / 2**20, grown / 1024 / CLIENTS,
                     bound / 2**20, per_conn / 1024))
            self.assertLess(grown, bound)
            # Each connection was really filled, not refused or closed.
            self.assertGreater(sent, CLIENTS * (snd + rcv))
            if skmem is not None:       # the daemon's side, as the kernel sees it
                self.assertEqual(len(skmem), CLIENTS)
                for peer, m in skmem.items():
                    self.assertEqual((m["rb"], m["tb"]), (2 * rcv, 2 * snd), peer)
            self.assertEqual(d.stop(), 0)


@unittest.skipIf(harness.server_skmem(1) is None, "needs ss (iproute2)")
class Settings(unittest.TestCase):
    def connect_and_look(self, d):
        s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
        s.sendall(b"x")
        self.assertEqual(harness.recv_exactly(s, 1), b"X")
        m = harness.server_skmem(d.port)[s.getsockname()[1]]
        return s, (m["rb"], m["tb"])

    def test_values_and_reload(self):
        extra = "tcp = { send_buffer = %d; receive_buffer = %d; };"
        with Daemon(extra=extra % (40000, 24576)) as d:
            old, bufs = self.connect_and_look(d)
            self.assertEqual(bufs, (2 * 24576, 2 * 40000))
            # A reload applies to the connections accepted after it.
            d.write_conf(make_conf(d.port, extra=extra % (16384, 100000)))
            d.send_signal(signal.SIGHUP)
            log = d.wait_log("configuration reloaded")
            new, bufs = self.connect_and_look(d)
            self.assertEqual(bufs, (2 * 100000, 2 * 16384))
            self.assertEqual(harness.server_skmem(d.port)[old.getsockname()[1]]["tb"],
                             2 * 40000, "an open connection keeps its buffers")
            # 0 cannot be handed back to a listener kept open: it says so.
            d.write_conf(make_conf(d.port, extra=extra % (0, 100000)))
            d.send_signal(signal.SIGHUP)
            log = d.wait_log("changed to 0", after=len(log))
            last, bufs = self.connect_and_look(d)
            self.assertEqual(bufs, (2 * 100000, 2 * 16384))
            last.close()
            old.close()
            new.close()
            self.assertEqual(d.stop(), 0)

    def test_zero_leaves_the_kernel_autotuning(self):
        # Without the lock the kernel grows the send buffer of a busy
        # connection past anything our default would give.
        with Daemon(extra="tcp = { send_buffer = 0; receive_buffer = 0; };") as d:
            s = small_client(d.port)
            harness.fill_until_stalled(s, settle=1.0)
            tb = max(m["tb"] for m in harness.server_skmem(d.port).values())
            print("autotuned send buffer of a never-reading client: %d KiB" % (tb // 1024))
            self.assertGreater(tb, 2 * sample_default("send_buffer"))
            s.close()
            self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    unittest.main()
