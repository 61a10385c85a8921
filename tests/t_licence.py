#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""t_licence.py: the licence is there and every source file says it.

COPYING holds the ISC licence; every file of the source tree that is code,
a build file, a man page, a unit or the sample configuration starts with
an SPDX line naming ISC (within its first three lines: after a #! line,
in the file's own comment syntax).  Seed inputs of the fuzzers
(fuzz/corpus, fuzz/regress) are data, not source, and are left out.
"""
import os
import unittest

TOP = os.environ.get("TOP_SRCDIR", os.path.join(os.path.dirname(__file__), ".."))
DIRS = ("src", "tests", "fuzz", "bench", "man", "systemd", "etc")
TOP_FILES = ("configure.ac", "Makefile.am", "dev", ".ci/run")
DATA = (os.path.join("fuzz", "corpus"), os.path.join("fuzz", "regress"))
# What a build or a test run leaves beside the sources in a tree built in
# place: not source.
BUILT = (".o", ".a", ".so", ".log", ".trs", ".pyc")


def source_files():
    for name in TOP_FILES:
        if os.path.isfile(os.path.join(TOP, name)):
            yield name
    for d in DIRS:
        for root, dirs, files in os.walk(os.path.join(TOP, d)):
            rel = os.path.relpath(root, TOP)
            dirs[:] = [x for x in dirs if os.path.join(rel, x) not in DATA
                       and not x.startswith(".") and x != "__pycache__"]
            for f in files:
                path = os.path.join(root, f)
                if f.endswith(BUILT) or f.startswith(".") or os.access(path, os.X_OK) \
                        and not f.endswith((".py", ".sh")):
                    continue        # objects, logs, built programs
                if f == "upcased.service" and os.path.isfile(path + ".in"):
                    continue        # made from upcased.service.in
                yield os.path.join(rel, f)


class Licence(unittest.TestCase):
    def test_copying_is_isc(self):
        with open(os.path.join(TOP, "COPYING")) as f:
            text = f.read()
        self.assertIn("Permission to use, copy, modify, and distribute this software for any\n"
                      "purpose with or without fee is hereby granted", text)
        self.assertIn('THE SOFTWARE IS PROVIDED "AS IS"', text)

    def test_every_source_file_has_an_spdx_line(self):
        files = sorted(source_files())
        missing = []
        for name in files:
            with open(os.path.join(TOP, name), "rb") as f:
                head = b"".join(f.readline() for _ in range(3))
            if b"SPDX-License-Identifier: ISC" not in head:
                missing.append(name)
        print("%d source files checked" % len(files))
        self.assertGreater(len(files), 80, "the walk found too few files: %s" % files)
        self.assertEqual(missing, [], "files without an SPDX line naming ISC")


if __name__ == "__main__":
    unittest.main()
