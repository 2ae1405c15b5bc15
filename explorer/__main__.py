"""``python -m explorer [--host 127.0.0.1] [--port 8050] [--max-samples 20000]``: start the lever explorer."""
from __future__ import annotations

import argparse
import ipaddress
import sys

from .backend import DEFAULT_MAX_SAMPLES, MIN_SAMPLES
from .server import make_explorer_server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m explorer",
        description="Lever explorer: a local web page to move the plan's levers and see the ensemble's odds.")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1: this machine only; 0.0.0.0 opens it to the network)")
    parser.add_argument("--port", type=int, default=8050, help="port (default 8050; 0 picks a free one)")
    parser.add_argument("--max-samples", type=int, default=DEFAULT_MAX_SAMPLES,
                        help=f"largest ensemble run per change (default {DEFAULT_MAX_SAMPLES:,})")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port} must be in 0-65535")
    if args.max_samples < MIN_SAMPLES:
        parser.error(f"--max-samples {args.max_samples} must be at least {MIN_SAMPLES}")
    try:
        server = make_explorer_server(args.host, args.port, max_samples=args.max_samples)
    except OSError as error:
        print(f"python -m explorer: error: cannot listen on {args.host}:{args.port} ({error.strerror}); "
              f"choose another --port or --host", file=sys.stderr)
        return 2
    try:
        is_loopback = ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        is_loopback = args.host == "localhost"
    print(f"Lever explorer: http://{args.host}:{server.server_port}/  (Ctrl+C to stop)", flush=True)
    if not is_loopback:
        print("warning: bound to a non-loopback address; anyone who can reach it can run ensembles "
              "and write scenario files", file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
