#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""t_bugreport: one bug-report address, from AC_INIT, everywhere it is told.

configure.ac's AC_INIT names it (PACKAGE_BUGREPORT); `upcased --help` and
`upcase --help` end with "Report bugs to: ADDRESS" as GNU tools do, and
AUTHORS, README.md, upcased(8) and upcase(1) give the same address.
"""
import os
import re
import unittest

import harness
from harness import UPCASE, UPCASED


def bugreport():
    with open(os.path.join(harness.TOP, "configure.ac")) as f:
        m = re.search(r"AC_INIT\(\[upcase\], \[[^]]*\], \[([^]]*)\]", f.read())
    return m.group(1)


class BugReport(unittest.TestCase):
    def test_address_is_set(self):
        self.assertRegex(bugreport(), r"^[^@\s]+@[^@\s]+\.[a-z]+$")

    def test_help_ends_with_it(self):
        want = ("\nReport bugs to: %s\n" % bugreport()).encode()
        for prog in (UPCASED, UPCASE):
            for opt in ("--help", "-h"):
                rc, out, err = harness.run([prog, opt])
                self.assertEqual((rc, err), (0, b""), (prog, opt))
                self.assertTrue(out.endswith(want), (prog, opt, out[-120:]))

    def test_documents_name_it(self):
        addr = bugreport()
        for name in ("AUTHORS", "README.md", "man/upcased.8", "man/upcase.1"):
            with open(os.path.join(harness.TOP, name)) as f:
                self.assertIn(addr, f.read(), name)


if __name__ == "__main__":
    unittest.main(verbosity=2)
