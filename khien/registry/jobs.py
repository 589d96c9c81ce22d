"""Periodic jobs of the registry (run by `khien worker`)."""
import datetime as dt

from khien.core.jobs import periodic


@periodic("registry.imports_resume", every=dt.timedelta(minutes=1))
def resume_imports(now) -> str | None:
    """Run again the CSV/XLSX imports whose run stopped with a restart of the web process."""
    from . import imports

    handled = imports.resume_stale_imports(now)
    return ", ".join(handled) if handled else None
