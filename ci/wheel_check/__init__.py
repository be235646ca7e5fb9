"""The check of a built wheel before it is published: `python ci/check_wheel.py WHEEL`.

It reads the wheel as an index would see it, and each extension's build record inside it, and
says for every rule what is wrong and what to change. A build tool, not part of the package:
it needs pyelftools and packaging (auditwheel depends on both). In layers:

- results: a rule's Result and Status;
- tools: the programs some rules run (cuobjdump, auditwheel), and the skip without one;
- elf: an extension's dynamic section and exported symbols, read with pyelftools;
- wheel_name: a wheel's file name, parsed and made from METADATA and WHEEL with packaging;
- contents: the unpacked wheel and its extensions with their build records;
- metadata_rules, binary_rules: the rules, on the names and metadata, and on the extensions;
- check: every rule on one wheel; cli: the command line.
"""
