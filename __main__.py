"""`python -m hybridize ...` runs `opt-tool` (same arguments, same exit codes).

    $ python -m hybridize -p canonicalize,fuse,plan model.mlir
    $ python -m hybridize --list-passes
"""

from hybridize.tools.opt_tool import main

if __name__ == "__main__":
    raise SystemExit(main())
