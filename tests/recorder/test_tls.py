"""TLS certificates are verified for https and wss, although ssi-fc-data turns that off:
an emulator with a certificate from an untrusted CA is refused at the REST call and, when
only REST trusts the CA, at the websocket handshake; trusting it end to end records."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests.recorder.harness import data_dir, emulator, recorder_config, recording, truth
from vnrec.emulator.server import EmulatorServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_server(authority: trustme.CA) -> Iterator[EmulatorServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    with emulator(tls=context) as server:
        assert server.url.startswith("https://127.0.0.1:")
        yield server


def test_untrusted_certificate_is_refused_before_any_request(
    tls_server: EmulatorServer, tmp_path: Path
) -> None:
    """The access-token request fails certificate verification; nothing is recorded."""
    layout = data_dir(tmp_path)
    with recording(tls_server, layout, recorder_config()) as run:
        run.wait_for(lambda: "connect_failed" in [e for e, _ in run.recorder.events], 30)
        run.stop()
    reasons = [r for e, r in run.recorder.events if e == "connect_failed"]
    assert "CERTIFICATE_VERIFY_FAILED" in reasons[0]
    assert run.recorded() == 0


def test_websocket_checks_the_certificate_too(
    tls_server: EmulatorServer,
    authority: trustme.CA,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With the CA trusted for REST only, the wss handshake is refused (the library's own
    default, CERT_NONE, would have accepted it) and no message is recorded."""
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    layout = data_dir(tmp_path)
    with recording(tls_server, layout, recorder_config()) as run:
        run.wait_for(lambda: "disconnect" in [e for e, _ in run.recorder.events], 30)
        run.stop()
    events = [e for e, _ in run.recorder.events]
    assert "connect" in events and "subscribe" not in events
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text
    assert run.recorded() == 0


def test_trusted_certificate_records(
    tls_server: EmulatorServer,
    authority: trustme.CA,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Trusting the CA for both (REQUESTS_CA_BUNDLE, WEBSOCKET_CLIENT_CA_BUNDLE) records."""
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    monkeypatch.setenv("WEBSOCKET_CLIENT_CA_BUNDLE", str(bundle))
    layout = data_dir(tmp_path)
    expected = len(truth())
    with recording(tls_server, layout, recorder_config()) as run:
        run.wait_for(lambda: run.recorded() >= expected, 60)
        summary = run.stop()
    assert summary.messages == expected and summary.reconnects == 0
