"""The REST side of FastConnect Data v2 that the `ssi-fc-data` client calls: AccessToken,
and the Bearer-protected reference lists (Securities, SecuritiesDetails, IndexComponents,
IndexList) in SSI's wrapped shapes, served from the day's universe."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson
from aiohttp import web

from vnrec.emulator.auth import Credentials, TokenIssuer, bearer_token
from vnrec.emulator.universe import Instrument, Universe

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_MARKETS = {"HOSE": "HOSE", "HNX": "HNX", "UPCOM": "UPCOM", "DER": "DERIVATIVES"}


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


def _page(request: web.Request, rows: Sequence[Any]) -> web.Response:
    try:
        index = max(int(request.query.get("pageIndex") or 1), 1)
        size = max(int(request.query.get("pageSize") or 100), 1)
    except ValueError:
        return _json(
            {"status": 400, "message": "pageIndex and pageSize must be integers", "data": None}, 400
        )
    chunk = list(rows[(index - 1) * size : index * size])
    return _json(
        {"data": chunk, "message": "Success", "status": "Success", "totalRecord": len(rows)}
    )


def _market_name(inst: Instrument) -> str:
    return "DER" if inst.is_future else inst.exchange


class RestApi:
    def __init__(self, universe: Universe, credentials: Credentials, issuer: TokenIssuer) -> None:
        self.universe = universe
        self.credentials = credentials
        self.issuer = issuer
        self.date = universe.day.strftime("%d/%m/%Y")

    def routes(self) -> list[web.RouteDef]:
        prefix = "/api/v2/Market/"
        return [
            web.post(prefix + "AccessToken", self.access_token),
            web.get(prefix + "Securities", self._guard(self.securities)),
            web.get(prefix + "SecuritiesDetails", self._guard(self.securities_details)),
            web.get(prefix + "IndexComponents", self._guard(self.index_components)),
            web.get(prefix + "IndexList", self._guard(self.index_list)),
        ]

    def _guard(self, handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            token = bearer_token(request.headers.get("Authorization"))
            if token is None or not self.issuer.valid(token):
                log.info("refused %s: missing or invalid bearer token", request.path)
                return _json({"status": 401, "message": "Unauthorized", "data": None}, 401)
            return await handler(request)

        return guarded

    async def access_token(self, request: web.Request) -> web.Response:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            return _json(
                {"status": 400, "message": "Request body is not a JSON object", "data": None}, 400
            )
        if not self.credentials.accepts(body.get("consumerID"), body.get("consumerSecret")):
            log.info("refused an access token: wrong consumer id or secret")
            return _json(
                {"status": 401, "message": "Invalid consumerID or consumerSecret", "data": None},
                401,
            )
        token = self.issuer.issue(self.credentials.consumer_id)
        return _json({"status": 200, "message": "Success", "data": {"accessToken": token}})

    def _select(self, request: web.Request) -> list[Instrument]:
        market = _MARKETS.get(request.query.get("market", "").upper())
        symbol = request.query.get("symbol", "").upper()
        return [
            inst
            for inst in self.universe.instruments
            if (market is None or inst.exchange == market) and (not symbol or inst.symbol == symbol)
        ]

    async def securities(self, request: web.Request) -> web.Response:
        rows = [
            {
                "Market": _market_name(inst),
                "Symbol": inst.symbol,
                "StockName": inst.symbol,
                "StockEnName": inst.symbol,
            }
            for inst in self._select(request)
        ]
        return _page(request, rows)

    def _details(self, inst: Instrument) -> dict[str, Any]:
        expiry = inst.last_trading_day.strftime("%d/%m/%Y") if inst.last_trading_day else ""
        return {
            "Isin": inst.symbol,
            "Symbol": inst.symbol,
            "SymbolName": inst.symbol,
            "SymbolEngName": inst.symbol,
            "SecType": "FU" if inst.is_future else "ST",
            "MarketId": _market_name(inst),
            "Exchange": _market_name(inst),
            "Issuer": None,
            "LotSize": str(inst.lot),
            "IssueDate": "",
            "MaturityDate": expiry,
            "FirstTradingDate": "",
            "LastTradingDate": expiry,
            "ContractMultiplier": "100000" if inst.is_future else "0",
            "SettlMethod": "C" if inst.is_future else "",
            "Underlying": "VN30" if inst.is_future else None,
            "PutOrCall": None,
            "ExercisePrice": "0",
            "ExerciseStyle": "",
            "ExcerciseRatio": "0",
            "ListedShare": str(inst.shares),
            "TickPrice1": "0.1" if inst.is_future else "",
        }

    async def securities_details(self, request: web.Request) -> web.Response:
        details = [self._details(inst) for inst in self._select(request)]
        report = {
            "RType": "y",
            "ReportDate": self.date,
            "TotalNoSym": str(len(details)),
            "RepeatedInfo": details,
        }
        return _page(request, [report])

    async def index_components(self, request: web.Request) -> web.Response:
        code = request.query.get("indexCode", "VN30").upper()
        specs = [s for s in self.universe.indices if s.index_id == code]
        rows = [
            {
                "IndexCode": spec.index_id,
                "IndexName": spec.index_id,
                "Exchange": "HOSE",
                "TotalSymbolNo": str(len(spec.members)),
                "IndexComponent": [{"Isin": s, "StockSymbol": s} for s in spec.members],
            }
            for spec in specs
        ]
        return _page(request, rows)

    async def index_list(self, request: web.Request) -> web.Response:
        rows = [
            {"IndexCode": s.index_id, "IndexName": s.index_id, "Exchange": "HOSE"}
            for s in self.universe.indices
        ]
        return _page(request, rows)
