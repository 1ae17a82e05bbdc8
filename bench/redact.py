"""Keeping secrets out of everything bench writes or prints: records, caches, logs, the site."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit


def redact(text: str, secrets: list[str]) -> str:
    """Some servers echo the key they refused, and some exceptions quote a header; a key must not reach
    a record, a log or the site, in any of the forms a message may spell it (raw, repr-escaped)."""
    for secret in secrets:
        if not secret or len(secret) < 6:
            continue
        for form in {secret, repr(secret)[1:-1], secret.encode("unicode_escape").decode("ascii")}:
            text = text.replace(form, "[redacted]")
    return redact_urls(text)


_URL_CREDENTIALS = re.compile(r"(https?://)[^/@\s:]+:[^/@\s]+@")
_URL_QUERY = re.compile(r"(https?://[^\s?#]*)[?#][^\s]*")


def redact_urls(text: str) -> str:
    """Credentials in a URL: ``user:secret@`` and any query string (``?api-key=...``)."""
    return _URL_QUERY.sub(r"\1?[redacted]", _URL_CREDENTIALS.sub(r"\1[redacted]@", text))


def display_url(url: str | None) -> str | None:
    """A base URL as it may be stored or shown: no ``user:secret@``, no query string, no fragment."""
    if not url or not any(mark in url for mark in "@?#"):
        return url
    parts = urlsplit(url)
    # the host and port as written (``.port`` would raise on an out-of-range port)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))
