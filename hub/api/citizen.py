"""hub.v1.CitizenService: the citizen's own case (issue 28), for the citizen portal
acting for the logged-in citizen. That citizen comes from the portal's signed
assertion (hub.api.auth.CitizenAssertions, verified in the `rpc` wrapper), as
Identity.citizen; hub.service.access keeps the portal to that citizen's cases."""
from __future__ import annotations

from hub.api.citizen_view import citizen_case_out
from hub.api.servicers import _Base, rpc
from hub.service import citizen
from hub.v1 import citizen_pb2_grpc


class CitizenServicer(_Base, citizen_pb2_grpc.CitizenServiceServicer):
    @rpc("GetCitizenCase")
    def GetCitizenCase(self, tx, request, identity, purpose):
        return citizen_case_out(tx.read(identity, "GetCitizenCase", citizen.get_citizen_case, request.case_id,
                                        purpose))
