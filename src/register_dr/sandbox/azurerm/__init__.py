"""The Terraform state store of the sandbox, reached the way Terraform's azurerm backend reaches Azure.

Terraform's azurerm backend has no endpoint setting: it always talks to ``https://<account>.blob.core.windows.net``
(hashicorp/terraform internal/backend/remote-state/azure/api_client.go, ``getBlobClient``). The sandbox therefore
runs, beside the backup Azurite:

- a second Azurite that serves HTTPS (``--cert``/``--key``) with a certificate for ``*.blob.core.windows.net`` and
  ``127.0.0.1`` from a local CA (``tls.py``), holding the Terraform state accounts under their real names
  (``s121p01registerterraform``...), all with one key;
- a CONNECT proxy on 127.0.0.1 (``proxy.py``) that sends tunnels for ``*.blob.core.windows.net`` to it.

Terraform then needs ``HTTPS_PROXY``, ``SSL_CERT_FILE`` (the CA bundle) and a credential: ``ARM_ACCESS_KEY`` (the
state accounts' key; Azurite accepts Terraform's SharedKey signature for these named accounts) or ``ARM_SAS_TOKEN``
(an account SAS for one account, ``account_sas``). env.sh exports them; ``terraform_environment`` gives them to
code that runs Terraform.

Why a second Azurite and not one for everything: the backups (devstoreaccount1) are read and written with a
connection string whose BlobEndpoint is ``http://127.0.0.1:<port>/devstoreaccount1`` by the nightly job, the
backups modules, the restore and its benchmarks. Serving them over TLS would need the CA in every one of those
clients (the Azure SDK's requests transport ignores SSL_CERT_FILE) and would add TLS to the 100 MB/s restore
stream, for no fidelity gain: production reaches the backup account with a connection string too. Each account
lives in exactly one of the two servers, so no blob exists twice.
"""
