"""`make bench`: run every benchmark and write docs/benchmarks.md."""

from bench import (
    aletheia,
    backups,
    briefing,
    coldstart,
    exports,
    gcs_backup,
    load,
    logins,
    monitoring,
    scale,
    scheduling,
    workspace,
)

coldstart.main(
    extra_sections=load.markdown(load.measure())
    + logins.measure()
    + backups.measure()
    + gcs_backup.measure()
    + monitoring.measure()
    + aletheia.measure()
    + briefing.measure()
    + scale.measure()
    + exports.measure()
    + workspace.measure()
    + scheduling.measure()
)
