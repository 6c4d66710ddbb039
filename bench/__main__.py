"""`make bench`: run every benchmark and write docs/benchmarks.md."""

from bench.coldstart import main

main()
