"""The acknowledgement receiver wired to the lake: ``python -m jobs.gold.ack_receiver [--host 127.0.0.1]
[--port 8765] [--lake DIR] [--list-held]``.

The HTTP handling lives in :mod:`fengqiao.delivery.ack_receiver`, which never opens the lake; this entry
point gives it a sink that validates and stores each authenticated disposition into
gold/alert_dispositions (:func:`jobs.gold.alert_dispositions.record_dispositions`) and keeps its replay
ledger in the lake (``<lake>/_receiver/seen_signatures.txt``). The entry point is a job because it writes
the lake, and only jobs do.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from fengqiao.core.settings import Settings
from fengqiao.delivery.ack_receiver import DispositionSink, ReplayLedger, make_ack_server, serve
from fengqiao.delivery.bureau_keys import BureauKey
from fengqiao.lake import Lake
from jobs.gold.alert_dispositions import held_dispositions, record_dispositions


def ledger_path(lake: Lake) -> Path:
    return lake.root / "_receiver" / "seen_signatures.txt"


def lake_sink(lake: Lake) -> DispositionSink:
    """Store each disposition the receiver accepts in the lake's gold/alert_dispositions."""
    def store_webhook_disposition(record: dict, key: BureauKey) -> dict:
        return record_dispositions(lake, [("webhook", record)], via="webhook", key=key)
    return store_webhook_disposition


def serve_acknowledgements(host: str = "127.0.0.1", port: int = 8765, lake: Lake | str | None = None,
                           settings: Settings | None = None, *, background: bool = False):
    """Run the receiver on ``host:port`` (loopback by default; put a TLS reverse proxy in front to expose
    it). ``settings`` default to the environment's; ``lake`` to its lake (FENGQIAO_LAKE).

    Blocks until interrupted, or with ``background=True`` serves from a daemon thread and returns the
    server at once (stop it with ``server.shutdown(); server.server_close()``).
    """
    settings = settings or Settings.from_env()
    lake = lake if lake is not None else settings.lake_dir
    lake = lake if isinstance(lake, Lake) else Lake.at(lake)
    server = make_ack_server(host, port, lake_sink(lake), ReplayLedger(ledger_path(lake)),
                             settings.bureau_keys_file, settings.webhook_key)
    return serve(server, background=background)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Receive signed alert acknowledgements (POST /ack).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--lake", default=None, help="lake root (default FENGQIAO_LAKE)")
    parser.add_argument("--list-held", action="store_true",
                        help="list the dispositions held for review (unsigned or badly signed files) and exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    if args.list_held:
        held = held_dispositions(Lake.at(args.lake or Settings.from_env().lake_dir))
        print(held.to_string(index=False) if len(held) else "no dispositions held for review")
        return
    serve_acknowledgements(args.host, args.port, args.lake)


if __name__ == "__main__":
    main()
