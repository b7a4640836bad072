"""`make fuzz`: run the fuzzing harness (`hybridize.tools.fuzzing`) and print
the count of every outcome class per corpus; exit 1 if any run hung, crashed,
escaped with a traceback or made the backends disagree.

    python -m hybridize.tools.fuzz --budget 600 --seed 0 --out build/fuzz
    python -m hybridize.tools.fuzz --count ir=200,mxnet=50,graphs=20
"""

from __future__ import annotations

import argparse
import sys
import time


def main(argv=None) -> int:
    from hybridize.tools.fuzzing import FAILURES, run_campaign

    p = argparse.ArgumentParser(prog="fuzz", description=__doc__.split("\n\n")[0])
    p.add_argument("--budget", type=float, default=600, help="seconds for the whole campaign (default 600)")
    p.add_argument("--count", help="fixed counts instead of a budget, e.g. ir=200,mxnet=50,graphs=20")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="build/fuzz", help="folder for failing inputs (default build/fuzz)")
    args = p.parse_args(argv)
    counts = None
    if args.count:
        counts = {k: int(v) for k, v in (item.split("=") for item in args.count.split(","))}
    start = time.monotonic()
    report = run_campaign(args.out, seed=args.seed, budget=args.budget, counts=counts)
    print(f"fuzz: seed {args.seed}, {time.monotonic() - start:.0f} s")
    print(report.table())
    for corpus, outcome, path in report.examples[:20]:
        print(f"  {corpus} {outcome}: {path}")
    bad = report.failures()
    print(f"{bad} failing runs ({', '.join(FAILURES)})" if bad else "no failing runs")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
