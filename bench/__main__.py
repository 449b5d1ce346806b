"""`make bench` / `python -m bench`: every benchmark, figures against baselines measured in
the same run (printed, never asserted). `python -m bench.ingest --help` for its options."""

from __future__ import annotations

import sys

from bench import ingest


def main() -> int:
    return ingest.cli(sys.argv[1:])


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["queries"]:  # query timings at scale (bench/queries.py)
        from bench import queries

        queries.run(sys.argv[2:])
        raise SystemExit(0)
    if sys.argv[1:2] == ["export"]:  # worker memory while exporting 1M rows (bench/export.py)
        from bench import export

        raise SystemExit(export.cli(sys.argv[2:]))
    raise SystemExit(main())
