"""The JSON error log: one object per record, on one line, whatever the message holds."""

from __future__ import annotations

import json
import logging
import os
import re

from glade.logging import JsonFormatter

ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$")


def record(message: str, *args, exc_info=None, level=logging.INFO) -> logging.LogRecord:
    return logging.LogRecord("glade.error", level, __file__, 1, message, args, exc_info)


def test_fields():
    line = JsonFormatter().format(record("worker %d: %s", 42, "BOOTING -> SERVING"))
    entry = json.loads(line)
    assert ISO_TIME.match(entry.pop("time"))
    assert entry == {
        "level": "INFO",
        "pid": os.getpid(),
        "logger": "glade.error",
        "message": "worker 42: BOOTING -> SERVING",
    }


def test_the_exception_is_one_string_field_and_the_line_stays_one_line():
    try:
        raise RuntimeError('the app failed: "quoted"\nand a second line')
    except RuntimeError as error:
        exc_info = (type(error), error, error.__traceback__)
    line = JsonFormatter().format(
        record("Error handling request %s", "GET /x", exc_info=exc_info, level=logging.ERROR)
    )
    assert "\n" not in line and line.isascii()
    entry = json.loads(line)
    assert entry["level"] == "ERROR"
    assert entry["message"] == "Error handling request GET /x"
    assert entry["exception"].startswith("Traceback (most recent call last):\n")
    assert entry["exception"].endswith('RuntimeError: the app failed: "quoted"\nand a second line')


def test_a_message_with_newlines_and_quotes_is_escaped():
    entry = json.loads(JsonFormatter().format(record('stack:\n  "a"\n  \\b \u2603')))
    assert entry["message"] == 'stack:\n  "a"\n  \\b \u2603'
    assert "exception" not in entry
