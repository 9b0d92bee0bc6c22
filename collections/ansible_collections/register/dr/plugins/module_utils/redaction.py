# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""Secrets recognised by their value, wherever they appear in a text: a URI or DSN with a password, a libpq
``password=``, a storage connection string's key or signature, a SAS, a bearer token. Names of variables
(``QA_DATABASE_URL``, ``SENTRY_DSN``) say nothing reliable about their values; the values do."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

MASK = "********"
_END = r"\s'\"<>"
PATTERNS = (
    # scheme://user:password@host - greedy to the last @ of the token, so a password holding @ is hidden whole
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/?#@%s]*:)[^%s]*@" % (_END, _END), re.IGNORECASE), r"\1" + MASK + "@"),
    (re.compile(r"\b(password|passwd|pwd)(\s*=\s*)('[^']*'|\"[^\"]*\"|[^%s;&]+)" % _END, re.IGNORECASE),
     r"\1\2" + MASK),
    (re.compile(r"\b(AccountKey|SharedAccessSignature|SharedAccessKey)=[^;%s]+" % _END, re.IGNORECASE),
     r"\1=" + MASK),
    (re.compile(r"([?&;](?:sig|signature)=)[^&;%s]+" % _END, re.IGNORECASE), r"\1" + MASK),
    (re.compile(r"\b(Bearer\s+)[A-Za-z0-9._~+/-]{8,}=*"), r"\1" + MASK),
)


def looks_secret(value):
    """Whether a value holds a secret by its form (a DSN with a password, a key, a signature, a token)."""
    text = str(value)
    return any(entry[0].search(text) for entry in PATTERNS)


def scrub(text, known=()):
    """``text`` with every secret-looking part and every ``known`` secret value (four characters or more) masked."""
    text = str(text)
    for value in known:
        if value and len(str(value)) >= 4:
            text = text.replace(str(value), MASK)
    for pattern, replacement in PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def scrub_all(value, known=()):
    """``scrub`` applied to every string inside dicts, lists and tuples."""
    if isinstance(value, dict):
        return dict((key, scrub_all(item, known)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [scrub_all(item, known) for item in value]
    if isinstance(value, str):
        return scrub(value, known)
    return value
