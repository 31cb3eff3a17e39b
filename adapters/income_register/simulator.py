"""A stand-in for the income register (eIndkomst), which cannot be reached from here.
It serves a deterministic generated population over HTTP: the same CPR number and
month always give the same records.

    POST /v1/income   {"cpr": "...", "from_month": "YYYY-MM", "to_month": "YYYY-MM"}
    -> {"reference": "...", "fetched_at": "...", "records": [...]}
    GET  /v1/stats    -> {"requests": n}  (how many income look-ups were served)

Records have the register's shape: payer (CVR and SE number), income period, income
type code, A-income with and without labour-market contribution (fields 13 and 14),
A-tax (15) and labour-market contribution (16), all integers of øre (the client refuses
anything else).

    python -m adapters.income_register.simulator --port 8089"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from hub.domain.months import between

MAX_MONTHS = 36


def _rng(*parts: str) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256("|".join(parts).encode()).digest()[:8], "big"))


def employers(cpr: str) -> list[dict[str, str]]:
    r = _rng(cpr, "employers")
    out = []
    for _ in range(r.choice([0, 1, 1, 1, 2])):
        cvr = f"{r.randrange(10_000_000, 99_999_999)}"
        out.append(dict(cvr=cvr, se=f"{r.randrange(10_000_000, 99_999_999)}"))
    return out


def income_records(cpr: str, months: list[str]) -> list[dict]:
    records = []
    for month in months:
        y, m = map(int, month.split("-"))
        start = dt.date(y, m, 1)
        end = (dt.date(y + (m == 12), 1 if m == 12 else m + 1, 1) - dt.timedelta(days=1))
        for e in employers(cpr):
            r = _rng(cpr, e["cvr"], month)
            if r.random() < 0.08:  # no pay this month from this payer
                continue
            with_am = r.randrange(1_500_000, 4_500_000)          # øre
            am = with_am * 8 // 100                              # field 16: 8 %
            without_am = r.choice([0, 0, 0, r.randrange(50_000, 300_000)])
            tax = (with_am - am + without_am) * 37 // 100        # field 15
            records.append(dict(
                payer_cvr=e["cvr"], payer_se=e["se"], income_period_start=start.isoformat(),
                income_period_end=end.isoformat(), income_type_code="00",
                a_income_with_am_oere=with_am, a_income_without_am_oere=without_am,
                a_tax_oere=tax, am_contribution_oere=am,
                fields={"13": with_am, "14": without_am, "15": tax, "16": am}))
    return records


class _Handler(BaseHTTPRequestHandler):
    server_version = "income-register-simulator/1"

    def log_message(self, *args) -> None:  # no access log: requests carry CPR numbers
        pass

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/v1/stats":
            self._json(200, dict(requests=self.server.requests))
        elif self.path == "/health":
            self._json(200, dict(status="ok"))
        else:
            self._json(404, dict(error="not found"))

    def do_POST(self) -> None:
        if self.path != "/v1/income":
            return self._json(404, dict(error="not found"))
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            cpr, first, last = body["cpr"], body["from_month"], body["to_month"]
            if not (len(cpr) == 10 and cpr.isdigit()):
                raise ValueError("cpr must be 10 digits")
            months = between(first, last)
            if not months or len(months) > MAX_MONTHS:
                raise ValueError(f"between 1 and {MAX_MONTHS} months")
        except (ValueError, KeyError, TypeError) as exc:
            return self._json(400, dict(error=f"bad request: {exc}"))
        with self.server.lock:
            self.server.requests += 1
            n = self.server.requests
        reference = "EI-" + hashlib.sha256(f"{cpr}|{first}|{last}".encode()).hexdigest()[:12] + f"-{n}"
        self._json(200, dict(reference=reference, fetched_at=dt.datetime.now(dt.timezone.utc).isoformat(),
                             records=income_records(cpr, months)))


class Simulator(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        super().__init__((host, port), _Handler)
        self.requests = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://{self.server_address[0]}:{self.server_address[1]}"

    def start_in_thread(self) -> "Simulator":
        threading.Thread(target=self.serve_forever, daemon=True, name="income-register-sim").start()
        return self


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8089)
    args = ap.parse_args(argv)
    sim = Simulator(args.host, args.port)
    print(f"income register simulator on {sim.url}", flush=True)
    try:
        sim.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
