"""Example programs, one per kind of user of the hub (see the README). Each uses only
the SDK and the generated contract; `run_example` is their shared command line."""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Callable

import grpc

from clients.sdk import connect, describe_error


def run_example(doc: str, argv: list[str] | None, add_arguments: Callable[[argparse.ArgumentParser], None],
                act: Callable[[Any, argparse.Namespace], None],
                connect_options: Callable[[argparse.Namespace], dict] = lambda args: {}) -> int:
    """The command line every example shares: --address and --token (default
    $HUBCTL_ADDRESS, $HUBCTL_TOKEN) and its own arguments; `act(hub, args)` on a
    connected SDK. Exit 0 done, 1 the hub refused (its status on stderr), 0 on ^C."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--address", default=os.environ.get("HUBCTL_ADDRESS", "127.0.0.1:50051"))
    ap.add_argument("--token", default=os.environ.get("HUBCTL_TOKEN", ""))
    add_arguments(ap)
    args = ap.parse_args(argv)
    hub = connect(args.address, args.token, **connect_options(args))
    try:
        act(hub, args)
        return 0
    except grpc.RpcError as err:
        print(describe_error(err), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        hub.close()
