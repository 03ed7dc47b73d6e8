"""python -m bench archive [--quick] [--size N] [--only import|search|export]
python -m bench ingest [--platform slack|teams] [--quick] [--size N]"""

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
    if args[0] == "ingest" and "--platform" in args:
        platform = (
            args[args.index("--platform") + 1] if len(args) > args.index("--platform") + 1 else ""
        )
        if platform == "teams":
            from bench.ingest_teams import main as ingest_teams

            return ingest_teams(args[1:])
        if platform != "slack":
            print(f"unknown platform {platform!r}; try: slack, teams", file=sys.stderr)
            return 2
    if args[0] == "ingest":
        from bench.ingest import main as ingest

        return ingest(args[1:])
    print(f"unknown benchmark {args[0]!r}; try: archive, ingest", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
