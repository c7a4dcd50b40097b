#!/usr/bin/python3
"""Checks that integration/isulad/README.md's "The patched CMake files"
shows what the patch series does: its first cmake block is the patched
src/daemon/mailbox/CMakeLists.txt, its second is in the patched
src/CMakeLists.txt, and the test include directory it names is the patched
one. Usage: readme_matches_patch.py integration/isulad/README.md PATCHED_ISULAD_TREE"""

import re
import sys


def main(readme, tree):
    text = open(readme).read()
    section = text.split("\n## The patched CMake files\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```cmake\n(.*?)\n```", section, re.S)
    problems = []
    if len(blocks) != 2:
        problems.append("expected 2 cmake blocks, found %d" % len(blocks))
    else:
        mailbox = open(tree + "/src/daemon/mailbox/CMakeLists.txt").read()
        if blocks[0].strip("\n") != mailbox.strip("\n"):
            problems.append("the first block is not src/daemon/mailbox/CMakeLists.txt")
        if blocks[1].strip("\n") + "\n" not in open(tree + "/src/CMakeLists.txt").read():
            problems.append("the second block is not in src/CMakeLists.txt")
    include = "$<TARGET_PROPERTY:isula_mailbox::daemon,INTERFACE_INCLUDE_DIRECTORIES>"
    if include not in open(tree + "/test/sandbox/sandbox/CMakeLists.txt").read():
        problems.append("test/sandbox/sandbox/CMakeLists.txt does not use " + include)
    for p in problems:
        print("README does not match the patch series: " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
