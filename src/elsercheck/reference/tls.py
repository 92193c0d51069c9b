"""A generated CA and server certificate so the reference server can speak HTTPS like ES 8+."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme

HOSTNAMES = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path
    server_cert: Path
    server_key: Path


def generate(directory: Path) -> TlsFiles:
    """Write ``ca.crt`` (clients' ``--ca-certs``), ``server.crt`` and ``server.key``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="elsercheck reference server")
    cert = ca.issue_cert(*HOSTNAMES)
    files = TlsFiles(directory / "ca.crt", directory / "server.crt", directory / "server.key")
    ca.cert_pem.write_to_path(str(files.ca_cert))
    cert.private_key_pem.write_to_path(str(files.server_key))
    # Full chain: the leaf first, then the CA, as servers send it.
    files.server_cert.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    files.server_key.chmod(0o600)
    return files
