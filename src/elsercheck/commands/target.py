"""The target a command talks to: the one given, or an embedded reference server it starts."""

from __future__ import annotations

import argparse
import contextlib
import secrets
from collections.abc import Iterator

from ..target import Target
from .options import UsageError, eis, eis_limits, embedded, es_version, timing, timing_name


@contextlib.contextmanager
def target_or_embedded(args: argparse.Namespace) -> Iterator[tuple[Target, float | None]]:
    """The given target, or the embedded reference server started for this command.

    Also yields how long the target takes to scale an idle deployment to zero, when known
    (the embedded server's; None on a cluster).
    """
    if not embedded(args):
        given = ("es_version", "conformant", "eis", "eis_limits")
        if any(getattr(args, name, None) for name in given):
            raise UsageError(
                "--es-version, --conformant, --eis and --eis-limits choose the embedded server's "
                "model; against --url the gate reads the version from the cluster (force a "
                "profile with --profile)"
            )
        yield Target.from_options(
            args.url, api_key=args.api_key, username=args.username, password=args.password,
            ca_certs=args.ca_certs, insecure=args.insecure,
        ), None  # fmt: skip
        return
    from ..reference.config import ServerConfig
    from ..reference.serve import EmbeddedServer

    profile = timing(args)
    version = es_version(args)
    password = secrets.token_urlsafe(12)
    config = ServerConfig(
        password=password, timing=profile, es_version=version,
        conformant=getattr(args, "conformant", False), eis=eis(args, version),
        eis_limits=eis_limits(args),
    )  # fmt: skip
    with EmbeddedServer(config) as server:
        print(f"reference server at {server.url} (timing {timing_name(args)}); "
              f"{config.modelled()}", flush=True)  # fmt: skip
        zero_wait = profile.scale_to_zero_seconds + profile.scale_down_cooldown_seconds
        yield Target(server.url, username="elastic", password=password), zero_wait
