"""python -m bench archive [--quick] [--size N] [--only import|search|export]
python -m bench ingest [--quick] [--size N]"""

from __future__ import annotations

import sys


def main() -> int:
    args = sys.argv[1:]
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if args[0] == "archive":
        from bench.archive import main as archive

        return archive(args[1:])
    if args[0] == "ingest":
        from bench.ingest import main as ingest

        return ingest(args[1:])
    print(f"unknown benchmark {args[0]!r}; try: archive, ingest", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
