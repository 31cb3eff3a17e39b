"""The register simulators `make run` starts, in one process: the income register
(eIndkomst), the CPR register, the shared municipal rent register and the tax
authority's final assessments, each on its own port as the hub's settings expect
(HUB_INCOME_REGISTER_URL, HUB_CPR_REGISTER_URL, HUB_RENT_REGISTER_URL,
HUB_FINAL_ASSESSMENT_URL). One process rather than four: `make run` starts and stops one
thing, the machine carries one interpreter, and the simulators share nothing but the
process (each is its own server with its own fixtures; `python -m
adapters.<register>.simulator` still runs one alone).

    python -m adapters.simulators --income-port 8089 --cpr-port 8090 --rent-port 8091 \
        --final-assessment-port 8092

It prints one line per simulator once all of them listen, and stops on SIGINT or SIGTERM."""
from __future__ import annotations

import argparse
import signal
import threading

from adapters.cpr_register.simulator import Simulator as CprSimulator
from adapters.final_assessment.simulator import Simulator as FinalAssessmentSimulator
from adapters.income_register.simulator import Simulator as IncomeSimulator
from adapters.rent_register.simulator import Simulator as RentSimulator


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--income-port", type=int, default=8089)
    ap.add_argument("--cpr-port", type=int, default=8090)
    ap.add_argument("--rent-port", type=int, default=8091)
    ap.add_argument("--final-assessment-port", type=int, default=8092)
    args = ap.parse_args(argv)
    sims = [IncomeSimulator(args.host, args.income_port), CprSimulator(args.host, args.cpr_port),
            RentSimulator(args.host, args.rent_port),
            FinalAssessmentSimulator(args.host, args.final_assessment_port)]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    for sim in sims:
        sim.start_in_thread()
        print(f"{sim.name} simulator on {sim.url}", flush=True)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    for sim in sims:
        sim.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
