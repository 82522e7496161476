"""Scrubbing customer contact data out of HTTP clients' debug lines (``api/redaction.py``)."""

from __future__ import annotations


def test_redaction_filter_scrubs_urllib3_lines():
    import logging

    from stoq_provider.api.redaction import ContactDataFilter

    record = logging.LogRecord(
        "urllib3", logging.DEBUG, "", 0, '"%s %s HTTP/1.1" %s', ("GET", "/x?email=a%40b.com&page=1", 200), None
    )
    ContactDataFilter().filter(record)
    assert "a%40b.com" not in record.getMessage() and "page=1" in record.getMessage()
