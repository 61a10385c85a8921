#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""t_config.py: upcased -t, and start-up, with good and bad config files.

Black box: runs the real upcased.  -t must print "configuration OK" and exit
0 for a valid file without touching any socket or file, and a bad file must
give "FILE:LINE: message" on stderr and exit 78 (EX_CONFIG), with -t and
without.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

EX_CONFIG = 78
SHIPPED = os.path.join(harness.TOP, "etc", "upcased.conf")

# (text, line of the error, message): every one is a config error.
BAD = [
    ("backlog = 5;\nidle_timout = 3;\n", 2,
     "unknown setting 'idle_timout' (did you mean 'idle_timeout'?)"),
    ("\n\nidle_timeout = 0;\n", 3, "idle_timeout must be between 1 and 86400"),
    ('idle_timeout = "300";\n', 1, "idle_timeout must be an integer"),
    ("max_connections = 100.5;\n", 1, "max_connections must be an integer"),
    ("tcp = {\n  threads = 1;\n  nodelay = true;\n};\n", 3,
     "unknown setting 'tcp.nodelay'"),
    ('listen = (\n  { address = "127.0.0.1"; port = 1; },\n'
     '  { address = "localhost"; port = 2; }\n);\n', 3,
     'listen.address must be "*" or a numeric IPv4 or IPv6 address, '
     'not "localhost" (host names are not resolved)'),
    ("listen = (\n  { port = 70000; }\n);\n", 2,
     "listen.port must be between 1 and 65535"),
    ("listen = (\n  { port = 4294979296; }\n);\n", 2,
     "listen.port must be between 1 and 65535"),
    ("listen = (\n  { port = 5; },\n  { port = 5; udp = false; }\n);\n", 3,
     "duplicate listener * port 5 tcp (first on line 2)"),
    ("\nlisten = ( );\n", 2, "listen must have between 1 and 64 entries"),
    ("listen = (\n  { tcp = false; udp = false; }\n);\n", 2,
     "listen entry has neither tcp nor udp enabled"),
    ('log = {\n  level = "loud";\n};\n', 2,
     "log.level must be one of err, warning, notice, info, debug"),
    ("tcp = { threads = 1; };\nbacklog = ;\n", 2, "syntax error"),
    ('pidfile = "upcased.pid";\n', 1, 'pidfile must be an absolute path or ""'),
    ("control_mode = 0660;\n", 1,
     'control_mode must be a string of octal digits, such as "0660"'),
]


class ConfigTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="upcase-t-config-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, text, name="upcased.conf"):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def upcased(self, *args, cwd=None):
        """Run upcased; return (rc, stdout, stderr) as text."""
        p = subprocess.run([harness.UPCASED] + list(args), cwd=cwd,
                           capture_output=True, timeout=30)
        return (p.returncode, p.stdout.decode("utf-8", "replace"),
                p.stderr.decode("utf-8", "replace"))

    def assert_config_error(self, result, message):
        rc, out, err = result
        self.assertEqual(rc, EX_CONFIG, "stdout: %r\nstderr: %r" % (out, err))
        self.assertIn(message, err)
        self.assertNotIn("configuration OK", out)

    def test_shipped_file_ok(self):
        rc, out, err = self.upcased("-t", "-c", SHIPPED)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.strip(), "configuration OK")
        rc, out, err = self.upcased("--test", "--config", SHIPPED)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.strip(), "configuration OK")

    def test_bad_files(self):
        for text, line, message in BAD:
            with self.subTest(text=text):
                path = self.write(text)
                self.assert_config_error(self.upcased("-t", "-c", path),
                                         "upcased: %s:%d: %s\n" % (path, line, message))

    def test_path_as_given(self):
        """A relative -c path is repeated exactly as it was given."""
        self.write("\nbacklog = 0;\n", "relative.conf")
        self.assert_config_error(
            self.upcased("-t", "-c", "relative.conf", cwd=self.dir),
            "upcased: relative.conf:2: backlog must be between 1 and 65535\n")

    def test_missing_and_unreadable(self):
        missing = os.path.join(self.dir, "no-such.conf")
        self.assert_config_error(self.upcased("-t", "-c", missing),
                                 "upcased: %s: No such file or directory\n" % missing)
        self.assert_config_error(self.upcased("-t", "-c", self.dir),
                                 "upcased: %s: is a directory\n" % self.dir)
        # Starting the daemon, not just -t.
        rc, out, err = self.upcased("-f", "-c", missing)
        self.assertEqual(rc, EX_CONFIG, err)
        self.assertIn("%s: No such file or directory" % missing, err)

    def test_t_touches_nothing(self):
        """-t opens no socket: a port that is already taken still checks out,
        and neither the control socket nor the pidfile appear."""
        port = harness.free_port()
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            tcp.bind(("127.0.0.1", port))
            tcp.listen(1)
            udp.bind(("127.0.0.1", port))
            sock = os.path.join(self.dir, "control.sock")
            pid = os.path.join(self.dir, "upcased.pid")
            path = self.write(
                'listen = ( { address = "127.0.0.1"; port = %d; } );\n'
                'control_socket = "%s";\n'
                'pidfile = "%s";\n'
                'log = { level = "debug"; };\n' % (port, sock, pid))
            rc, out, err = self.upcased("-t", "-c", path)
            self.assertEqual(rc, 0, err)
            self.assertEqual(out.strip(), "configuration OK")
            self.assertFalse(os.path.exists(sock))
            self.assertFalse(os.path.exists(pid))
            # The sockets are still ours: -t did not take them over.
            tcp.settimeout(0)
            with self.assertRaises(BlockingIOError):
                tcp.accept()
        finally:
            tcp.close()
            udp.close()

    def test_daemon_refuses_bad_file(self):
        """Without -t, a bad file stops start-up with the same message."""
        port = harness.free_port()
        text = harness.make_conf(port) + "\nidle_timeout = 0;\n"
        path = self.write(text)
        line = text.splitlines().index("idle_timeout = 0;") + 1
        rc, out, err = self.upcased("-f", "-c", path)
        self.assertEqual(rc, EX_CONFIG, err)
        self.assertIn("%s:%d: idle_timeout must be between 1 and 86400" % (path, line), err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
