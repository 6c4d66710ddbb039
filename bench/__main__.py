"""`make bench`: run every benchmark and write docs/benchmarks.md."""

from bench import aletheia, backups, briefing, coldstart, load, logins, monitoring, scale

coldstart.main(
    extra_sections=load.markdown(load.measure())
    + logins.measure()
    + backups.measure()
    + monitoring.measure()
    + aletheia.measure()
    + briefing.measure()
    + scale.measure()
)
