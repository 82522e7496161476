"""Keep customer contact data out of log lines that third-party libraries write.

``urllib3`` logs each request line at DEBUG, query string included; a ``list_intents(email=...)`` filter would
put an e-mail address there. :func:`install_query_filter` strips ``email``/``phone`` query values from those
records. Our own messages never contain them in the first place.
"""

from __future__ import annotations

import logging
import re

_CONTACT_QUERY = re.compile(r"((?:^|[?&\s])(?:email|phone)=)[^&\s\"]*", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+(?:@|%40)[\w-]+(?:\.[\w-]+)+")


def scrub(text: str) -> str:
    """Remove e-mail addresses and ``email=``/``phone=`` query values from ``text``."""
    return _EMAIL.sub("<email>", _CONTACT_QUERY.sub(r"\1***", text))


class ContactDataFilter(logging.Filter):
    """A logging filter that rewrites records holding contact data; it never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is the logging module's business, not ours
            return True
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


_FILTER = ContactDataFilter()


def install_query_filter(logger_name: str = "urllib3.connectionpool") -> None:
    """Attach the filter to a library logger (idempotent)."""
    logger = logging.getLogger(logger_name)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
