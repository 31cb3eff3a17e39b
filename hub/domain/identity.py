"""Who is calling, what their role may do, and which data they may see.

The permission table is data: one entry per action (an RPC's short name), naming the
roles that may perform it. Data limits (municipalities, central authorities) are
applied to every read and every list by the service layer."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from functools import cached_property

from hub.domain.model import Case, Sensitivity


class Role(str, enum.Enum):
    BORGERSERVICE = "borgerservice"
    CASEWORKER = "caseworker"  # caseworker of the authority
    BACK_OFFICE = "back_office"
    ECONOMY_SYSTEM = "economy_system"
    PAYMENT_PROVIDER = "payment_provider"
    VENDOR_SYSTEM = "vendor_system"
    OPERATOR = "operator"
    CITIZEN_PORTAL = "citizen_portal"  # acts for the logged-in citizen its signed assertion names
    RULE_ADMINISTRATOR = "rule_administrator"  # publishes the benefits' rule sets (the rates)
    MANAGER = "manager"  # a municipality's management: reads statistics and billing, acts on no case


ALL_ROLES = frozenset(Role)
_R = Role

# action -> roles that may perform it.
PERMISSIONS: dict[str, frozenset[Role]] = {
    "ListBenefits": ALL_ROLES,
    "GetBenefit": ALL_ROLES,
    "CreateCase": frozenset({_R.BORGERSERVICE, _R.BACK_OFFICE, _R.VENDOR_SYSTEM}),
    "GetCase": frozenset({_R.BORGERSERVICE, _R.CASEWORKER, _R.BACK_OFFICE, _R.VENDOR_SYSTEM, _R.OPERATOR}),
    "ListCases": frozenset({_R.BORGERSERVICE, _R.CASEWORKER, _R.BACK_OFFICE, _R.VENDOR_SYSTEM, _R.OPERATOR}),
    "AddInformation": frozenset({_R.BORGERSERVICE, _R.CASEWORKER, _R.BACK_OFFICE, _R.VENDOR_SYSTEM}),
    "WithdrawCase": frozenset({_R.BORGERSERVICE, _R.CASEWORKER, _R.BACK_OFFICE}),
    "SubmitDraftDecision": frozenset({_R.BACK_OFFICE}),
    "ApproveDecision": frozenset({_R.CASEWORKER}),
    "ReturnDraft": frozenset({_R.CASEWORKER}),
    "ListPendingApprovals": frozenset({_R.CASEWORKER, _R.OPERATOR}),
    "RequestRegisterData": frozenset({_R.BACK_OFFICE, _R.CASEWORKER}),
    # Events: the systems around the hub follow what happens to the cases they may see.
    **{a: frozenset({_R.ECONOMY_SYSTEM, _R.VENDOR_SYSTEM, _R.BACK_OFFICE, _R.CASEWORKER, _R.BORGERSERVICE,
                     _R.OPERATOR})
       for a in ("Subscribe", "CreateSubscription", "GetSubscription", "AckEvents")},
    # The audit log: operators search it; the citizen portal shows a citizen who looked.
    "ListAuditEntries": frozenset({_R.OPERATOR}),
    "ListCitizenAccess": frozenset({_R.CITIZEN_PORTAL}),
    "ListCitizenCases": frozenset({_R.CITIZEN_PORTAL}),
    # Operations: the outbox, dead letters and destinations.
    "GetOutboxSummary": frozenset({_R.OPERATOR}),
    "ListOutboxMessages": frozenset({_R.OPERATOR}),
    "ReplayDeadLetters": frozenset({_R.OPERATOR}),
    "PauseDestination": frozenset({_R.OPERATOR}),
    "ResumeDestination": frozenset({_R.OPERATOR}),
    "RetryNow": frozenset({_R.OPERATOR}),
    # Payments: runs and the back office's corrections; providers pay and collect.
    "RunPayments": frozenset({_R.BACK_OFFICE, _R.OPERATOR}),
    "SchedulePayments": frozenset({_R.BACK_OFFICE}),
    "ListPayments": frozenset({_R.ECONOMY_SYSTEM, _R.BACK_OFFICE, _R.OPERATOR}),
    "PushPaymentBatch": frozenset({_R.BACK_OFFICE, _R.OPERATOR}),
    "ReissuePayment": frozenset({_R.BACK_OFFICE}),
    "SetClaimOffset": frozenset({_R.BACK_OFFICE}),
    "WriteOffClaim": frozenset({_R.BACK_OFFICE}),
    **{a: frozenset({_R.PAYMENT_PROVIDER})
       for a in ("FetchPaymentBatch", "AcknowledgePaymentBatch", "ReportSettlement", "ReportCollection")},
    # Hearings: prepared by the back office or the authority; answers come in anywhere.
    "StartHearing": frozenset({_R.BACK_OFFICE, _R.CASEWORKER}),
    "RecordHearingResponse": frozenset({_R.BORGERSERVICE, _R.BACK_OFFICE, _R.CASEWORKER}),
    # Complaints: filed at the counter or the back office; the authority reconsiders.
    "FileComplaint": frozenset({_R.BORGERSERVICE, _R.BACK_OFFICE}),
    "DecideLateComplaint": frozenset({_R.CASEWORKER}),
    "SubmitStatement": frozenset({_R.BACK_OFFICE}),
    "Reconsider": frozenset({_R.CASEWORKER}),
    "RecordAppealOutcome": frozenset({_R.BACK_OFFICE, _R.CASEWORKER}),
    "GetComplaint": frozenset({_R.BORGERSERVICE, _R.CASEWORKER, _R.BACK_OFFICE, _R.OPERATOR}),
    "ListComplaints": frozenset({_R.BORGERSERVICE, _R.CASEWORKER, _R.BACK_OFFICE, _R.OPERATOR}),
    "ListOverdue": frozenset({_R.CASEWORKER, _R.BACK_OFFICE, _R.OPERATOR}),
    # Rules: the published rates are for anyone who works with the cases; only the rule
    # administrator publishes; the calculation is for those who write and approve drafts.
    **{a: frozenset({_R.BORGERSERVICE, _R.CASEWORKER, _R.BACK_OFFICE, _R.VENDOR_SYSTEM, _R.OPERATOR,
                     _R.RULE_ADMINISTRATOR}) for a in ("ListRuleSets", "GetRuleSet")},
    "PublishRuleSet": frozenset({_R.RULE_ADMINISTRATOR}),
    "CalculateDraft": frozenset({_R.BACK_OFFICE, _R.CASEWORKER}),
    "GetAutomationReport": frozenset({_R.CASEWORKER, _R.BACK_OFFICE, _R.OPERATOR}),
    # Final settlement: the back office runs it; the authority and the municipality's
    # economy follow its results for their cases.
    "RunFinalSettlement": frozenset({_R.BACK_OFFICE}),
    "GetSettlement": frozenset({_R.BACK_OFFICE, _R.CASEWORKER, _R.ECONOMY_SYSTEM}),
    "ListSettlements": frozenset({_R.BACK_OFFICE, _R.CASEWORKER, _R.ECONOMY_SYSTEM, _R.OPERATOR}),
    # IT control: the back office (or an operator) runs it; the municipality's caseworker
    # (its control unit's people) sees the findings of its cases and records the outcome
    # of the physical control; the back office follows up the findings it is given.
    "RunControl": frozenset({_R.BACK_OFFICE, _R.OPERATOR}),
    "ListControlFindings": frozenset({_R.CASEWORKER, _R.BACK_OFFICE, _R.OPERATOR}),
    "RecordControlOutcome": frozenset({_R.CASEWORKER}),
    # Management information: a municipality's managers and the authority's people see
    # their own municipalities' figures and the national ones; the shared back office and
    # operators see all.
    "GetStatistics": frozenset({_R.MANAGER, _R.CASEWORKER, _R.BACK_OFFICE, _R.OPERATOR}),
    # Subscription billing (issue 28): the back office (or an operator) bills a quarter, for
    # every municipality at once; a municipality's management, its economy system, the back
    # office and operators read a municipality's statement.
    "RunBilling": frozenset({_R.BACK_OFFICE, _R.OPERATOR}),
    "GetBillingStatement": frozenset({_R.MANAGER, _R.ECONOMY_SYSTEM, _R.BACK_OFFICE, _R.OPERATOR}),
}

# The citizen's own case (issue 28). The citizen portal acts for one citizen at a time,
# the one its signed assertion names (hub.api.auth verifies it, Identity.citizen holds
# the CPR): these actions it may take only with one, and only on that citizen's cases
# (hub.service.access.authorize, case_in_scope). Its reads of the citizen's cases are
# in the audit log like anyone's; ListCitizenAccess shows them as the citizen's own.
CITIZEN_ACTIONS = frozenset({"ListCitizenCases", "ListCitizenAccess", "GetCitizenCase", "CreateCase",
                             "RecordHearingResponse", "FileComplaint"})
PERMISSIONS["GetCitizenCase"] = frozenset({_R.CITIZEN_PORTAL})
for _action in ("CreateCase", "RecordHearingResponse", "FileComplaint"):
    PERMISSIONS[_action] = PERMISSIONS[_action] | {_R.CITIZEN_PORTAL}

# Only the authority's own people add discretionary assessments ("skøn").
DISCRETION_ROLES = frozenset({_R.CASEWORKER, _R.BORGERSERVICE})


@dataclass(frozen=True)
class Identity:
    client_id: str
    role: Role
    municipalities: frozenset[str] = field(default_factory=frozenset)
    # Codes of central authorities this client acts for (e.g. UDBETALING_DANMARK).
    central_authorities: frozenset[str] = field(default_factory=frozenset)
    # Data limits beyond the municipalities: the benefits (None: all) and the highest
    # case sensitivity this client may see.
    benefits: frozenset[str] | None = None
    max_sensitivity: Sensitivity = Sensitivity.SENSITIVE_PERSONAL_DATA
    # The citizen portal only: the CPR of the logged-in citizen it acts for in this call,
    # from a verified assertion (None: none presented). Never in a repr, so never logged.
    citizen: str | None = field(default=None, repr=False)

    def acting_for(self, cpr: str) -> "Identity":
        """This client acting for the citizen `cpr` (proven by a verified assertion)."""
        return replace(self, citizen=cpr)

    def may(self, action: str) -> bool:
        return self.role in PERMISSIONS.get(action, frozenset())

    def covers_municipality(self, code: str) -> bool:
        return code in self.municipalities

    def covers_authority(self, authority_key: str) -> bool:
        kind, _, code = authority_key.partition(":")
        if kind == "municipality":
            return code in self.municipalities
        return code in self.central_authorities

    @cached_property
    def scope(self) -> "Scope":
        return Scope(frozenset(self.municipalities),
                     tuple(f"municipality:{m}" for m in sorted(self.municipalities))
                     + tuple(f"central:{c}" for c in sorted(self.central_authorities)),
                     self.benefits, tuple(self.max_sensitivity.at_most()))


@dataclass(frozen=True)
class Scope:
    """What a client may see ("dataafgrænsning"): the cases of the municipalities it
    acts for or whose authority it is, of its benefits (None: all), up to its highest
    sensitivity. One rule, two forms: `sees` checks a case in memory; the store turns
    the same fields into the WHERE clause of every list and stream (hub.store.scoping),
    so a case outside it is in no answer and looks exactly like one that does not exist."""
    municipalities: frozenset[str]
    authority_keys: tuple[str, ...]            # municipality:<code> and central:<code> it is the authority as
    benefits: frozenset[str] | None            # None: every benefit
    sensitivities: tuple[Sensitivity, ...]     # the sensitivities up to its highest

    def sees(self, case: Case) -> bool:
        return self.sees_row(case.municipality_code, case.authority_key, case.benefit_code, case.sensitivity)

    def sees_row(self, municipality_code: str, authority_key: str | None, benefit_code: str,
                 sensitivity: Sensitivity) -> bool:
        return ((municipality_code in self.municipalities or authority_key in self.authority_keys)
                and self.covers_benefit(benefit_code) and sensitivity in self.sensitivities)

    def covers_benefit(self, benefit_code: str) -> bool:
        return self.benefits is None or benefit_code in self.benefits

    @property
    def central_keys(self) -> tuple[str, ...]:
        return tuple(k for k in self.authority_keys if k.startswith("central:"))
