#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""t_activation_listen: under socket activation the config's listen and
backlog are not used; upcased says so, instead of letting them look applied.

upcased is started as systemd would start it, with a TCP and a UDP socket
as fds 3 and 4 (LISTEN_FDS, LISTEN_PID: tests/t_systemd.py's Activated):
  - a config with listen entries: a notice at start-up naming FILE:LINE;
    without any listen entry, none;
  - listen rewritten, SIGHUP: a warning naming the file (the included one
    when listen is there) and upcased.socket; the reload is applied, the
    sockets are systemd's, the new address is not listened on;
  - the same file again, SIGHUP: no new warning; backlog changed: a
    warning about Backlog=;
  - listen.proxy_protocol is still taken for a socket from systemd bound
    where its entry is (else a proxy's clients would be served as the
    proxy, past the access rules), at start and on reload.
"""
import errno
import os
import re
import signal
import socket
import time
import unittest

import harness
from harness import make_conf
from t_systemd import Activated, ActivationCase, NO_SYSTEMD, high_fd, refused

LISTEN_WARNING = ("reload: listen changed in %s but the sockets come from systemd "
                  "(socket activation), so it is not used: edit upcased.socket instead "
                  "(systemctl edit upcased.socket)")


@unittest.skipUnless(harness.built_with_systemd(), NO_SYSTEMD)
class ActivationListen(ActivationCase):
    prefix = "upcase-actlisten-"

    def start(self, conf, check=True):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", self.port))
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind(("127.0.0.1", self.port))
        tcp.listen(16)
        fds = (high_fd(tcp), high_fd(udp))
        tcp.close()
        udp.close()
        try:
            self.d = Activated(self.dir, conf, fds=fds)
        finally:
            for fd in fds:
                os.close(fd)
        self.d.wait_log("started")
        if check:
            self.assertEqual(harness.tcp_roundtrip(self.port, b"up"), b"UP")
        return self.d

    def ask(self, data):
        """data over TCP, half-closed: the reply, or None if refused."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            return harness.recv_all(s) or None
        except OSError as e:
            if e.errno not in (errno.ECONNRESET, errno.EPIPE, errno.ENOTCONN):
                raise
            return None
        finally:
            s.close()

    def test_proxy_protocol(self):
        proxy = ('listen = ( { address = "127.0.0.1"; port = %d; proxy_protocol = true; } );\n'
                 'trusted_proxies = ( "127.0.0.1" );\naccess = ( "deny 127.0.0.9" );\n'
                 'control_socket = "";\n')
        header = b"PROXY TCP4 %s 127.0.0.1 5555 " + str(self.port).encode() + b"\r\n"
        d = self.start(proxy % self.port, check=False)
        # The header is read, and the client it names meets the access rules.
        self.assertIsNone(self.ask(header % b"127.0.0.9" + b"denied"))
        self.assertEqual(self.ask(header % b"127.0.0.8" + b"allowed"), b"ALLOWED")
        self.assertIsNone(self.ask(b"no header"))
        # Turned off by a reload: the socket is plain again.
        self.reload(make_conf(self.port))
        self.assertEqual(self.ask(header % b"127.0.0.9" + b"x"),
                         (header % b"127.0.0.9" + b"x").upper())
        # On again, and an entry that matches no socket is said to.
        added = self.reload((proxy % self.port).replace(
            "} );", '}, { address = "127.0.0.1"; port = %d; proxy_protocol = true; } );'
            % self.other))
        self.assertIn("proxy_protocol of 127.0.0.1 port %d: none of the sockets from systemd "
                      "is bound there" % self.other, added)
        self.assertIsNone(self.ask(header % b"127.0.0.9" + b"denied"))
        self.assertEqual(self.ask(header % b"127.0.0.8" + b"again"), b"AGAIN")
        self.assertEqual(d.stop(), 0)

    def reload(self, conf):
        """Write conf, SIGHUP, wait for the reload; return the log lines it added."""
        before = len(self.d.read_log())
        with open(self.d.conf_path, "w") as f:
            f.write(conf)
        n = self.d.read_log().count("configuration reloaded")
        os.kill(self.d.pid, signal.SIGHUP)
        deadline = time.monotonic() + 10
        while self.d.read_log().count("configuration reloaded") == n:
            self.assertLess(time.monotonic(), deadline, "no reload:\n" + self.d.read_log())
            time.sleep(0.02)
        return self.d.read_log()[before:]

    def test_listen_changed_and_reloaded(self):
        d = self.start(make_conf(self.other))
        log = d.read_log()
        self.assertIn("%s:1: listen is not used: the sockets come from systemd "
                      "(socket activation); edit upcased.socket instead" % d.conf_path, log)
        # Moved to a third port: warned, not applied.
        third = harness.free_port()
        added = self.reload(make_conf(third))
        self.assertIn(LISTEN_WARNING % d.conf_path, added)
        self.assertRegex(added, r"(?m)^upcased: reload: listen changed")
        self.assertEqual(harness.tcp_roundtrip(self.port, b"still"), b"STILL")
        self.assertEqual(harness.udp_roundtrip(self.port, b"still"), b"STILL")
        self.assertTrue(refused(third), "the new listen was used despite LISTEN_FDS")
        # The same file again: its listen is still not the one served, so
        # it is said again (a warning per reload that cannot apply it).
        added = self.reload(make_conf(third))
        self.assertIn(LISTEN_WARNING % d.conf_path, added)
        self.assertNotIn("backlog changed", added)
        # Back to the listen it started with, written otherwise (tcp/udp
        # spelt out, members reordered): what is served, nothing said.
        added = self.reload(make_conf(self.other, listen='{ port = %d; address = "127.0.0.1"; '
                                                         'udp = true; tcp = true; }' % self.other))
        self.assertNotIn("listen changed", added)
        # backlog cannot apply to systemd's sockets either.
        added = self.reload(make_conf(self.other, extra="backlog = 7;"))
        self.assertIn("reload: backlog changed in %s but the sockets come from systemd "
                      "(socket activation), so it is not used: set Backlog= in "
                      "upcased.socket instead" % d.conf_path, added)
        self.assertNotIn("listen changed", added)
        self.assertEqual(d.stop(), 0)

    def test_listen_in_an_included_file(self):
        inc = os.path.join(self.dir, "listen.conf")
        with open(inc, "w") as f:
            f.write('\nlisten = ( { address = "127.0.0.1"; port = %d; } );\n' % self.other)
        d = self.start('control_socket = "";\n@include "%s"\n' % inc)
        self.assertIn("%s:2: listen is not used" % inc, d.read_log())
        with open(inc, "w") as f:
            f.write('\nlisten = ( { address = "127.0.0.1"; port = %d; udp = false; } );\n'
                    % self.other)
        added = self.reload('control_socket = "";\n@include "%s"\n' % inc)
        self.assertIn(LISTEN_WARNING % inc, added)
        self.assertEqual(d.stop(), 0)

    def test_no_listen_no_notice(self):
        d = self.start('control_socket = "";\n')
        self.assertNotIn("listen is not used", d.read_log())
        # Adding one is a change, named by the file.
        added = self.reload(make_conf(self.other))
        self.assertIn(LISTEN_WARNING % d.conf_path, added)
        self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
