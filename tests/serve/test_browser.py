"""The page in a real headless browser (Debian's chromium, driven by Playwright): it loads
without a console error, draws the board and the basis chart, and what it shows equals
`/api/snapshot`; sorting and filtering work."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.recorder.harness import DAY
from tests.serve.servers import serving
from vnrec.emulator.market import MarketConfig, SyntheticMarket
from vnrec.storage.importer import Importer
from vnrec.storage.layout import Layout

pytestmark = pytest.mark.slow

# As a root user on a closed network: no sandbox, no background fetches to Google's hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is missing: `make test` installs it (apt-get)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    envelopes = SyntheticMarket(MarketConfig(DAY, symbols=6, activity=0.1, seed=4)).envelopes()
    root = tmp_path_factory.mktemp("browser") / "data"
    with Importer(Layout(root)) as importer:
        importer.import_lines((orjson.dumps(e) for e in envelopes), "<market>")
        importer.commit()
    return root


def _cells(page: Page, table: str, key: str) -> dict[str, dict[str, str]]:
    """Per row (by its `data-<key>`), the `data-value` of each cell by field."""
    rows: dict[str, dict[str, str]] = page.eval_on_selector_all(
        f"#{table} tbody tr",
        f"""rows => Object.fromEntries(rows.map(row => [row.dataset.{key},
            Object.fromEntries([...row.querySelectorAll('td')].map(
                td => [td.dataset.field, td.dataset.value]))]))""",
    )
    return rows


def _number(text: str) -> float | None:
    return None if text == "" else float(text)


def _same(shown: str, value: Any) -> bool:
    if value is None:
        return shown == ""
    if isinstance(value, bool):
        return shown == str(value).lower()
    if isinstance(value, int | float):
        return _number(shown) == float(value)
    return shown == str(value)


def test_the_page_shows_the_snapshot(browser: Browser, root: Path, tmp_path: Path) -> None:
    with serving(root, tmp_path / "serve.log", "--replay", DAY.isoformat(), "--speed", "2000") as s:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(s.url + "/")
        page.wait_for_selector("body[data-loaded=true]", timeout=60_000)
        # Updates arrive while the day plays; then it ends and the last pushes land.
        page.wait_for_function(
            "window.vnrecState.status && window.vnrecState.status.state === 'finished'",
            timeout=120_000,
        )
        snapshot = s.get("/api/snapshot")
        page.wait_for_function(
            "n => document.querySelector('#health [data-field=events]').dataset.value == n",
            arg=str(snapshot["events"]),
            timeout=60_000,
        )
        page.wait_for_function(
            "n => document.querySelectorAll('#board tbody tr').length == n",
            arg=len(snapshot["stats"]),
            timeout=60_000,
        )
        # The final pushes of every channel may land after the status: wait until drawn.
        foreign_net = {row["symbol"]: row["net_value"] for row in snapshot["foreign"]}
        expected = {
            row["symbol"]: [row["volume"], row["trades"], foreign_net.get(row["symbol"])]
            for row in snapshot["stats"]
        }
        page.wait_for_function(
            """want => Object.entries(want).every(([symbol, [volume, trades, net]]) => {
                const row = document.querySelector(`#board tr[data-symbol="${symbol}"]`);
                if (!row) return false;
                const value = f => row.querySelector(`[data-field=${f}]`).dataset.value;
                const foreign = value('foreign_net');
                return Number(value('volume')) === volume && Number(value('trades')) === trades
                    && (net === null ? foreign === '' : Number(foreign) === net);
            }) && document.querySelectorAll('#basis tbody tr').length > 0""",
            arg=expected,
            timeout=60_000,
        )
        page.wait_for_function(
            "n => document.querySelectorAll('#alerts tbody tr').length == n",
            arg=min(200, len(snapshot["alerts"])),
            timeout=60_000,
        )
        page.screenshot(path=str(tmp_path / "board.png"), full_page=True)

        board = _cells(page, "board", "symbol")
        foreign = {row["symbol"]: row["net_value"] for row in snapshot["foreign"]}
        assert set(board) == {row["symbol"] for row in snapshot["stats"]}
        for row in snapshot["stats"]:
            shown = board[row["symbol"]]
            for field in ("close", "volume", "value", "buy_volume", "sell_volume", "trades"):
                assert _same(shown[field], row[field]), (row["symbol"], field, shown[field])
            assert _same(shown["foreign_net"], foreign.get(row["symbol"]))
            reference = snapshot["reference"].get(row["symbol"])
            if reference is not None:
                assert _number(shown["change"]) == pytest.approx(row["close"] - reference)

        basis = _cells(page, "basis", "symbol")
        assert snapshot["basis"], "the day has futures with a basis"
        for row in snapshot["basis"]:
            for field in ("last_price", "last_index", "last_basis", "min_basis", "max_basis"):
                assert _same(basis[row["symbol"]][field], row[field])
        front = [row["symbol"] for row in snapshot["basis"] if row["front"]]
        assert page.locator("#basis tr.front").count() == len(front) == 1
        assert page.locator("#basis-chart canvas").count() == 1
        legend = page.locator("#basis-chart .u-legend").inner_text()
        assert f"{front[0]} (front)" in legend

        index = _cells(page, "index", "index")
        for row in snapshot["index"]:
            assert _same(index[row["index_id"]]["value"], row["value"])
        assert page.locator("#index-chart canvas").count() == 1
        alerts = page.locator("#alerts tbody tr")
        assert alerts.count() == min(200, len(snapshot["alerts"]))

        # Sorting and filtering.
        page.click("#board th[data-key=symbol]")
        page.wait_for_function(  # the page redraws on its next animation frame
            "() => { const s = [...document.querySelectorAll('#board tbody tr')]"
            ".map(r => r.dataset.symbol); return s.every((x, i) => i == 0 || s[i - 1] < x); }"
        )
        symbols = page.eval_on_selector_all(
            "#board tbody tr", "rows => rows.map(r => r.dataset.symbol)"
        )
        assert symbols == sorted(symbols)
        first = symbols[0]
        page.fill("#filter", first.lower())
        page.wait_for_function(
            "s => [...document.querySelectorAll('#board tbody tr')].every("
            "r => r.dataset.symbol.includes(s))",
            arg=first,
        )
        assert errors == []
        page.close()
