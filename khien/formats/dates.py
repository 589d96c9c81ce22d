"""Dates typed into forms and filters, in either language: day first, as the pages write them (06/12/2026 is the
sixth of December) and as Vietnamese administrative writing does. Django's defaults read dates month first, as in
the US: 12/06/2026 (12 June) silently became 6 December, and 13/06/2026 was refused. ISO dates (2026-12-06, what
the date pickers send) are read first; no month-first form is accepted at all."""
DATE_INPUT_FORMATS = ["%Y-%m-%d", "%d/%m/%Y", "%d/%m/%y", "%d-%m-%Y", "%d.%m.%Y"]
DATETIME_INPUT_FORMATS = [
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M", "%Y-%m-%d",
    "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y",
    "%d/%m/%y %H:%M:%S", "%d/%m/%y %H:%M", "%d/%m/%y",
    "%d-%m-%Y %H:%M", "%d-%m-%Y", "%d.%m.%Y %H:%M", "%d.%m.%Y",
    "%H:%M %d/%m/%Y",  # hour first, as the incident notices write a time
]
