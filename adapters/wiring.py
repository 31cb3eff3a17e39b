"""Which adapter serves which destination, chosen by configuration (environment):

    HUB_VAR_DIR              root of the local drop folders (default ./var)
    HUB_ECONOMY_ADAPTER      file (default) | webhook
    HUB_ECONOMY_WEBHOOK_URL  the economy system's endpoint, for webhook
    HUB_INCOME_REGISTER_URL  the income register (default: the local simulator,
                             http://127.0.0.1:8089, which `make run` starts)
    HUB_AMQP_URL             when set (amqp://guest:guest@127.0.0.1:5672/%2F), every
                             event is also published to RabbitMQ through the outbox;
                             `hub serve` and `hub dispatch` declare the exchange when
                             they start (a broker that is down then is logged, and
                             the hub serves all the same: the publisher declares it
                             on its first delivery)
    HUB_AMQP_EXCHANGE        the topic exchange (default sagshub.events)

Upheld complaints go to the appeals authority as BagIt packages under
./var/appeals/<municipality>/<complaint id>/.

Payment providers that take files get pain.001 credit transfers under
./var/payment_provider/<provider id>/ (PushPaymentBatch).

    HUB_PAYMENT_DEBTOR_ACCOUNTS  a CSV file (municipality_code,iban,bic): the payer
                             municipalities' own accounts and banks for the pain.001
                             files; a municipality without a row is named by its CVR
                             number (see adapters/payment_provider/pain001.py)

The defaults work on a fresh machine: every destination delivers to files under
./var, and the income register to the simulator."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

import structlog
from pika.exceptions import AMQPError

from adapters.amqp.publisher import EXCHANGE, AmqpEventPublisher, declare_exchange
from adapters.appeals.file_drop import AppealsFileDrop
from adapters.archive.bagit_archive import BagItArchive
from adapters.digital_post.memo import MeMoFileDrop
from adapters.economy.file_drop import EconomyFileDrop
from adapters.economy.webhook import EconomyWebhook
from adapters.income_register.client import IncomeRegisterClient
from adapters.payment_provider.pain001 import Pain001FileDrop, load_debtor_accounts
from hub.ports import AMQP, APPEALS, ARCHIVE, DIGITAL_POST, ECONOMY, INCOME_REGISTER, PAYMENT_PROVIDER, Adapter
from hub.store.uow import relay_events_to

DEFAULT_INCOME_REGISTER_URL = "http://127.0.0.1:8089"
log = structlog.get_logger("hub.amqp")


def build_adapters(env: Mapping[str, str] = os.environ) -> dict[str, Adapter]:
    var = Path(env.get("HUB_VAR_DIR", "var"))
    kind = env.get("HUB_ECONOMY_ADAPTER", "file")
    if kind == "webhook":
        url = env.get("HUB_ECONOMY_WEBHOOK_URL")
        if not url:
            raise ValueError("HUB_ECONOMY_ADAPTER=webhook needs HUB_ECONOMY_WEBHOOK_URL")
        economy: Adapter = EconomyWebhook(url)
    elif kind == "file":
        economy = EconomyFileDrop(var / "economy")
    else:
        raise ValueError(f"HUB_ECONOMY_ADAPTER must be file or webhook, not {kind!r}")
    accounts_file = env.get("HUB_PAYMENT_DEBTOR_ACCOUNTS")
    debtor_accounts = load_debtor_accounts(accounts_file) if accounts_file else {}
    adapters: dict[str, Adapter] = {
        ECONOMY: economy,
        DIGITAL_POST: MeMoFileDrop(var / "digital_post"),
        ARCHIVE: BagItArchive(var / "archive"),
        INCOME_REGISTER: IncomeRegisterClient(env.get("HUB_INCOME_REGISTER_URL", DEFAULT_INCOME_REGISTER_URL)),
        # pain.001 files, in a folder per provider: var/payment_provider/<provider id>/
        PAYMENT_PROVIDER: Pain001FileDrop(var / "payment_provider", debtor_accounts),
        APPEALS: AppealsFileDrop(var / "appeals"),
    }
    if env.get("HUB_AMQP_URL"):
        adapters[AMQP] = AmqpEventPublisher(env["HUB_AMQP_URL"], exchange=env.get("HUB_AMQP_EXCHANGE") or EXCHANGE)
    return adapters


def configure_event_relay(env: Mapping[str, str] = os.environ) -> None:
    """Writers (hub serve) put every event in the outbox for the broker too, when one
    is configured."""
    relay_events_to(*((AMQP,) if env.get("HUB_AMQP_URL") else ()))


def declare_event_exchange(env: Mapping[str, str] = os.environ) -> bool:
    """At start, with HUB_AMQP_URL: declare the events exchange, so that a subscriber
    can bind its queue before the first event. A broker that cannot be reached does not
    stop the hub (it is logged; the publisher declares the exchange on its first
    delivery, and events wait in the outbox until then). True when declared."""
    url = env.get("HUB_AMQP_URL")
    if not url:
        return False
    exchange = env.get("HUB_AMQP_EXCHANGE") or EXCHANGE
    try:
        declare_exchange(url, exchange)
    except (AMQPError, OSError) as exc:  # the URL (with its password) stays out of the log
        log.warning("amqp.exchange_not_declared", exchange=exchange, error=type(exc).__name__,
                    detail="the broker could not be reached at start; the publisher declares it on its first delivery")
        return False
    log.info("amqp.exchange_declared", exchange=exchange)
    return True
