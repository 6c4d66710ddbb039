"""`make bench`: run every benchmark and write docs/benchmarks.md."""

from bench import coldstart, load

coldstart.main(extra_sections=load.markdown(load.measure()))
