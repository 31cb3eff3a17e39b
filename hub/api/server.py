"""The grpc.aio server: hub services, standard health checking and reflection."""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import grpc
import sqlalchemy as sa
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from hub.api.auth import ClientRegistry
from hub.api.servicers import BenefitCatalogueServicer, CaseServicer, DecisionServicer
from hub.service.clock import Clock
from hub.service.hub import HubService
from hub.store.db import is_sqlite
from hub.v1 import benefits_pb2, benefits_pb2_grpc, cases_pb2, cases_pb2_grpc, decisions_pb2, decisions_pb2_grpc

log = structlog.get_logger("hub.server")

SERVICE_NAMES = [
    benefits_pb2.DESCRIPTOR.services_by_name["BenefitCatalogueService"].full_name,
    cases_pb2.DESCRIPTOR.services_by_name["CaseService"].full_name,
    decisions_pb2.DESCRIPTOR.services_by_name["DecisionService"].full_name,
]


def worker_threads(engine: sa.Engine) -> int:
    # SQLite has one writer at a time: one thread avoids lock contention entirely.
    return 1 if is_sqlite(engine) else engine.pool.size() + 2


async def start(engine: sa.Engine, registry: ClientRegistry, listen: str, *,
                clock: Clock | None = None) -> tuple[grpc.aio.Server, int]:
    """Start serving; returns the server and the bound port (listen may end in :0)."""
    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(max_workers=worker_threads(engine), thread_name_prefix="hub-db"))
    service = HubService(engine, clock)
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    benefits_pb2_grpc.add_BenefitCatalogueServiceServicer_to_server(BenefitCatalogueServicer(service, registry), server)
    cases_pb2_grpc.add_CaseServiceServicer_to_server(CaseServicer(service, registry), server)
    decisions_pb2_grpc.add_DecisionServiceServicer_to_server(DecisionServicer(service, registry), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(SERVICE_NAMES + [health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    port = server.add_insecure_port(listen)
    if port == 0:
        raise RuntimeError(f"could not bind {listen}")
    await server.start()
    for name in SERVICE_NAMES + [""]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info("serving", listen=listen, port=port, database=engine.dialect.name)
    return server, port
