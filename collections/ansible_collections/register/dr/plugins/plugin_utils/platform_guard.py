# -*- coding: utf-8 -*-
# Copyright: register.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A run against the real platform never uses the sandbox's endpoints or credentials, and a rehearsal never
reaches the real platform. Checked from the inventory's platform and the operator's environment before any call."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

SANDBOX_ENV = ("CF_API", "CF_USERNAME", "CF_PASSWORD", "AZURE_STORAGE_CONNECTION_STRING", "ARM_ACCESS_KEY",
               "HTTPS_PROXY", "SSL_CERT_FILE", "REGISTER_DR_HOME")
# Azurite's well-known development account (https://learn.microsoft.com/azure/storage/common/storage-use-azurite)
DEVELOPMENT_ACCOUNT = "devstoreaccount1"


def is_local(url):
    """True for an URL on this machine (127.0.0.0/8, ::1, localhost)."""
    host = urlsplit(url if "//" in url else "//" + url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _connection_string_fields(value):
    fields = {}
    for part in (value or "").split(";"):
        key, sep, field = part.partition("=")
        if sep:
            fields[key.strip().lower()] = field.strip()
    return fields


def is_sandbox_connection_string(value):
    """Azurite's: the development account, UseDevelopmentStorage, or an endpoint on this machine."""
    fields = _connection_string_fields(value)
    if fields.get("usedevelopmentstorage", "").lower() == "true" or fields.get("accountname") == DEVELOPMENT_ACCOUNT:
        return True
    return any(is_local(fields[key]) for key in ("blobendpoint", "queueendpoint", "tableendpoint") if key in fields)


def _leave_sandbox():
    return ("the sandbox's env.sh is sourced in this shell: open a new shell (or unset %s), or add "
            "-i inventories/sandbox to rehearse on the sandbox instead. Nothing was changed." % " ".join(SANDBOX_ENV))


def platform_mismatches(platform, environment, api_url, key_vault, environ):
    """What makes this run reach the wrong platform, as messages; empty when it is consistent.

    ``platform`` comes from the inventory (``dr_platform``: ``sandbox`` for the local one), ``api_url`` is the
    inventory's Cloud Foundry API, ``key_vault`` its Key Vault for the backups' connection string."""
    problems = []
    cf_api = environ.get("CF_API", "")
    storage = environ.get("AZURE_STORAGE_CONNECTION_STRING", "")
    if platform != "sandbox":
        where = "%s runs on the real platform (%s)" % (environment, api_url)
        if api_url and is_local(api_url):
            problems.append("%s, but its Cloud Foundry API is %s, on this machine. Nothing was changed." % (
                where.split(" (")[0], api_url))
        if cf_api and is_local(cf_api):
            problems.append("%s, but CF_API=%s is the sandbox's: %s" % (where, cf_api, _leave_sandbox()))
        if storage and is_sandbox_connection_string(storage):
            problems.append("%s, but AZURE_STORAGE_CONNECTION_STRING holds the sandbox's Azurite account: %s"
                            % (where, _leave_sandbox()))
        elif storage and key_vault:
            problems.append(
                "%s reads its backups' connection string from Key Vault %s, but AZURE_STORAGE_CONNECTION_STRING is set "
                "and would be used instead: unset it (or, to use it on purpose, say so in the inventory by leaving "
                "dr_backup_key_vault empty). Nothing was changed." % (environment, key_vault))
        home = environ.get("REGISTER_DR_HOME", "").rstrip("/")
        if home and environ.get("SSL_CERT_FILE", "").startswith(home + "/"):
            problems.append("%s, but SSL_CERT_FILE=%s is the sandbox's certificate authority: %s"
                            % (where, environ["SSL_CERT_FILE"], _leave_sandbox()))
    else:
        where = "This is a rehearsal on the local sandbox"
        if api_url and not is_local(api_url):
            problems.append(
                "%s, but the Cloud Foundry API is %s, not on this machine: source the sandbox's env.sh (register-dr "
                "sandbox up prints where it is) in a shell without the real platform's login. Nothing was changed."
                % (where, re.sub(r"//[^/@]*@", "//", api_url)))
        if storage and not is_sandbox_connection_string(storage):
            problems.append(
                "%s, but AZURE_STORAGE_CONNECTION_STRING names a real storage account: source the sandbox's env.sh "
                "in a shell without the real platform's credentials. Nothing was changed." % where)
    return problems
