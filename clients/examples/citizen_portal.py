"""The citizen portal, for a citizen logged in with MitID: every call carries the
portal's signed assertion of that citizen (the hub takes the CPR number from it, never
from a request), so the portal sees and acts on that citizen's cases only. It lists the
cases with what happens next and by when, shows one (letters, decisions, hearings,
complaints, payments and claims), answers an open hearing and complains of a decision.

    export HUBCTL_TOKEN=demo-citizen-portal
    python -m clients.examples.citizen_portal --cpr 0101701234 --key etc/dev-portal-key.pem cases
    python -m clients.examples.citizen_portal --cpr 0101701234 --key etc/dev-portal-key.pem show CASE_ID
    python -m clients.examples.citizen_portal ... answer HEARING_ID --text "Min indkomst er faldet."
    python -m clients.examples.citizen_portal ... complain DECISION_ID --text "Min husleje er højere."

(etc/dev-portal-key.pem is the DEMO portal's key, NOT for production: a real portal
signs with its own key and the hub's clients file holds the public half.) Uses only the
hub.v1 contract (through the SDK)."""
from __future__ import annotations

import sys
import uuid


from clients.examples import run_example
from clients.sdk import CitizenAssertion
from hub.v1 import cases_pb2, citizen_pb2, common_pb2, complaints_pb2, decisions_pb2, payments_pb2


def _when(ts) -> str:
    return ts.ToDatetime().strftime("%d.%m.%Y") if ts.seconds else "-"


def _phase(status: int) -> str:
    return common_pb2.CaseStatus.Name(status).removeprefix("CASE_STATUS_").lower()


def overview(hub, out=sys.stdout) -> list[cases_pb2.CitizenCaseStatus]:
    """The citizen's cases, each with its phase and what happens next, by when."""
    cases = list(hub.cases.ListCitizenCases(cases_pb2.ListCitizenCasesRequest()).cases)
    for c in cases:
        print(f"{c.case_id}  {c.benefit_code}  {_phase(c.status)}", file=out)
        for step in c.next_steps:
            print(f"    {step.text} (senest {_when(step.due_time)})", file=out)
    return cases


def show(hub, case_id: str, out=sys.stdout) -> citizen_pb2.CitizenCase:
    """One case as the citizen sees it."""
    case = hub.citizen.GetCitizenCase(citizen_pb2.GetCitizenCaseRequest(case_id=case_id))
    print(f"Sag {case.case_id}: {case.benefit_code}, {_phase(case.status)}, hos {case.authority.name}", file=out)
    for step in case.next_steps:
        print(f"  Næste skridt: {step.text} (senest {_when(step.due_time)})", file=out)
    for letter in case.letters:
        print(f"  Brev {_when(letter.sent_time)}: {letter.title}", file=out)
    for d in case.decisions:
        print(f"  Afgørelse {d.decision_id}: {decisions_pb2.Outcome.Name(d.outcome).removeprefix('OUTCOME_')}, "
              f"klagefrist {_when(d.complaint_deadline)}", file=out)
    for h in case.hearings:
        if h.status == decisions_pb2.HEARING_STATUS_OPEN:
            print(f"  Partshøring {h.hearing_id}: svar senest {_when(h.deadline)}", file=out)
    for p in case.payments:
        print(f"  Udbetaling {p.period}: {p.amount_oere / 100:.2f} kr, "
              f"{payments_pb2.PaymentStatus.Name(p.status).removeprefix('PAYMENT_STATUS_').lower()}", file=out)
    for c in case.claims:
        print(f"  Krav {c.claim_id}: {c.outstanding_oere / 100:.2f} kr udestående", file=out)
    return case


def answer(hub, hearing_id: str, text: str, out=sys.stdout):
    hearing = hub.decisions.RecordHearingResponse(decisions_pb2.RecordHearingResponseRequest(
        request_id=str(uuid.uuid4()), hearing_id=hearing_id, comments=text))
    print(f"Dit svar på partshøringen {hearing_id} er modtaget.", file=out)
    return hearing


def complain(hub, decision_id: str, text: str, out=sys.stdout):
    complaint = hub.complaints.FileComplaint(complaints_pb2.FileComplaintRequest(
        request_id=str(uuid.uuid4()), decision_id=decision_id, grounds=text))
    print(f"Din klage er modtaget ({complaint.complaint_id}); kommunen genvurderer afgørelsen senest "
          f"{_when(complaint.reconsider_by)}.", file=out)
    return complaint


def main(argv: list[str] | None = None) -> int:
    def arguments(ap):
        ap.add_argument("--portal", default="borger.dk", help="the portal's client id (the assertion's issuer)")
        ap.add_argument("--key", required=True, help="the portal's private key (PEM)")
        ap.add_argument("--cpr", required=True, help="the logged-in citizen")
        sub = ap.add_subparsers(dest="what", required=True)
        sub.add_parser("cases")
        sub.add_parser("show").add_argument("case_id")
        for name in ("answer", "complain"):
            s = sub.add_parser(name)
            s.add_argument("subject_id", help="the hearing (answer) or the decision (complain)")
            s.add_argument("--text", required=True)

    def assertion(args) -> dict:
        with open(args.key, "rb") as f:
            return dict(assertion=CitizenAssertion(f.read(), args.portal, args.cpr))

    def act(hub, args):
        if args.what == "cases":
            overview(hub)
        elif args.what == "show":
            show(hub, args.case_id)
        elif args.what == "answer":
            answer(hub, args.subject_id, args.text)
        else:
            complain(hub, args.subject_id, args.text)
    return run_example(__doc__, argv, arguments, act, assertion)

if __name__ == "__main__":
    sys.exit(main())
