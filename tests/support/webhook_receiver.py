#!/usr/bin/env python3
"""A scriptable SMO webhook receiver for o2gw's integration tests.

    webhook_receiver.py [--host 127.0.0.1] [--port 0] [--keys DIR] [--tolerance 300]
                        [--log FILE] [--tls-cert CERT --tls-key KEY] [--verbose]

Prints "listening on <host>:<port>" as its first stdout line once it accepts
connections. Every POST outside /_control is a delivery: its X-O2-Signature is
verified independently of o2gw (Python hmac/hashlib, the key-ring rules of
docs/webhooks.md, keys re-read from --keys on every request so rotation can be
tested live) and one JSON line is appended to --log and kept in memory:
    {"path", "notificationId", "subscriptionId", "signatureValid", "signatureError",
     "status", "body", "receivedAt"}

Control protocol:
    POST /_control  {"script": [{"status": 503, "retryAfter": 1, "count": 2}, {"status": 200}],
                     "delayMs": 0, "rejectInvalidSignature": false, "clearReceived": false}
        Sets the response script (entries are used in order; "count" repeats one;
        the last entry persists; an empty script means 204 for everything, the
        initial state). Fields left out keep their current setting. An entry may also
        carry "body" (JSON sent back), "delayMs" (overrides the global delay) and
        "drop": true (close the connection without answering). With
        rejectInvalidSignature, a delivery whose signature fails gets 401 and does not
        consume the script. clearReceived empties the received list.
    GET /_control/received   the received records as a JSON array
    GET (any other path)     200 {"ok": true}
"""

import argparse
import json
import os
import signal
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import verify_signature  # noqa: E402  (same directory)

MAX_BODY_BYTES = 16 * 1024 * 1024


class ControlError(Exception):
    pass


class ReceiverState:
    def __init__(self, keys_dir, tolerance, log_path):
        self.keys_dir = keys_dir
        self.tolerance = tolerance
        self.log_path = log_path
        self.lock = threading.Lock()
        self.script = []  # [[entry, uses_left], ...]
        self.delay_ms = 0
        self.reject_invalid = False
        self.received = []

    def configure(self, control):
        if not isinstance(control, dict):
            raise ControlError("control body must be a JSON object")
        unknown = set(control) - {"script", "delayMs", "rejectInvalidSignature", "clearReceived"}
        if unknown:
            raise ControlError(f"unknown control fields: {sorted(unknown)}")
        # Fields left out keep their current setting.
        entries = None
        if "script" in control:
            script = control["script"]
            if not isinstance(script, list):
                raise ControlError("script must be an array")
            entries = [[self._checked_entry(e), e.get("count", 1)] for e in script]
        delay = control.get("delayMs")
        if delay is not None and (not isinstance(delay, (int, float)) or delay < 0):
            raise ControlError("delayMs must be a number >= 0")
        with self.lock:
            if entries is not None:
                self.script = entries
            if delay is not None:
                self.delay_ms = delay
            if "rejectInvalidSignature" in control:
                self.reject_invalid = bool(control["rejectInvalidSignature"])
            if control.get("clearReceived"):
                self.received = []

    @staticmethod
    def _checked_entry(entry):
        if not isinstance(entry, dict):
            raise ControlError("script entries must be objects")
        unknown = set(entry) - {"status", "retryAfter", "count", "body", "delayMs", "drop"}
        if unknown:
            raise ControlError(f"unknown script entry fields: {sorted(unknown)}")
        status = entry.get("status", 204)
        if not isinstance(status, int) or not 200 <= status <= 599:
            raise ControlError("status must be an integer from 200 to 599")
        count = entry.get("count", 1)
        if not isinstance(count, int) or count < 1:
            raise ControlError("count must be an integer >= 1")
        retry_after = entry.get("retryAfter")
        if retry_after is not None and not isinstance(retry_after, (int, str)):
            raise ControlError("retryAfter must be an integer or a string")
        return dict(entry, status=status)

    def next_response(self):
        """The script entry for the next delivery (the last one persists)."""
        with self.lock:
            if not self.script:
                return {"status": 204}, self.delay_ms
            slot = self.script[0]
            if len(self.script) > 1:
                slot[1] -= 1
                if slot[1] <= 0:
                    self.script.pop(0)
            entry = slot[0]
            return entry, entry.get("delayMs", self.delay_ms)

    def verify(self, header, body):
        if not self.keys_dir:
            return False, "receiver started without --keys"
        try:
            keys = verify_signature.load_key_dir(self.keys_dir)
            verify_signature.verify(header, body, keys, self.tolerance)
            return True, None
        except verify_signature.SignatureError as e:
            return False, str(e)
        except OSError as e:
            return False, f"cannot read keys: {e}"

    def record(self, rec):
        line = json.dumps(rec, separators=(",", ":"))
        with self.lock:
            self.received.append(rec)
            if self.log_path:
                with open(self.log_path, "a", encoding="utf-8") as f:
                    f.write(line + "\n")

    def received_copy(self):
        with self.lock:
            return list(self.received)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server_version = "o2gw-test-receiver"
    timeout = 120  # idle keep-alive connections are closed after this

    @property
    def state(self):
        return self.server.state

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("receiver: %s - %s\n" % (self.address_string(), fmt % args))

    def _path(self):
        return self.path.split("?", 1)[0]

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            total = 0
            while True:
                size_line = self.rfile.readline(1024)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY_BYTES:
                    raise ValueError("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(8)  # CRLF after the chunk
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY_BYTES:
            raise ValueError("bad Content-Length")
        return self.rfile.read(length)

    def _send(self, status, payload=None, headers=(), head_only=False):
        data = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        # 204 has no body by definition (RFC 9110 forbids Content-Length there);
        # every other answer says how long it is, so keep-alive connections stay in step.
        if status not in (204, 304):
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data and not head_only:
            self.wfile.write(data)

    def do_GET(self):
        if self._path() == "/_control/received":
            self._send(200, self.state.received_copy())
        else:
            self._send(200, {"ok": True})

    def do_HEAD(self):
        self._send(200, {"ok": True}, head_only=True)

    def do_POST(self):
        try:
            body = self._read_body()
        except ValueError as e:
            self.close_connection = True
            self._send(400, {"error": str(e)})
            return
        if self._path() == "/_control":
            try:
                self.state.configure(json.loads(body or b"{}"))
            except (ControlError, ValueError) as e:
                self._send(400, {"error": str(e)})
                return
            self._send(200, {"ok": True})
            return
        self._deliver(body)

    def _deliver(self, body):
        received_at = time.time()
        valid, error = self.state.verify(self.headers.get("X-O2-Signature"), body)
        if self.state.reject_invalid and not valid:
            entry, delay_ms = {"status": 401}, 0
        else:
            entry, delay_ms = self.state.next_response()
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = body.decode("utf-8", "replace")
        dropped = bool(entry.get("drop"))
        self.state.record({
            "path": self.path,
            "notificationId": self.headers.get("X-O2-Notification-Id"),
            "subscriptionId": self.headers.get("X-O2-Subscription-Id"),
            "signatureValid": valid,
            "signatureError": error,
            "status": None if dropped else entry["status"],
            "body": parsed,
            "receivedAt": received_at,
        })
        if delay_ms:
            time.sleep(delay_ms / 1000.0)
        if dropped:
            self.close_connection = True
            return
        headers = []
        if entry.get("retryAfter") is not None:
            headers.append(("Retry-After", str(entry["retryAfter"])))
        self._send(entry["status"], entry.get("body"), headers)


class ReceiverServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, state, tls_context, verbose):
        super().__init__(address, Handler)
        self.state = state
        self.tls_context = tls_context
        self.verbose = verbose

    def finish_request(self, request, client_address):
        if self.tls_context is None:
            super().finish_request(request, client_address)
            return
        # The handshake runs here, on the connection's own thread, so a stalled
        # client cannot block the accept loop.
        request.settimeout(Handler.timeout)
        try:
            tls = self.tls_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            if self.verbose:
                sys.stderr.write(f"receiver: TLS handshake failed: {e}\n")
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            tls.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description="Scriptable o2gw webhook receiver (tests).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--keys", help="key-ring directory used to verify X-O2-Signature")
    parser.add_argument("--tolerance", type=int, default=300, help="allowed clock difference in seconds")
    parser.add_argument("--log", help="append one JSON line per delivery to this file")
    parser.add_argument("--tls-cert", help="PEM certificate chain: serve HTTPS")
    parser.add_argument("--tls-key", help="PEM private key for --tls-cert")
    parser.add_argument("--verbose", action="store_true", help="log requests to stderr")
    args = parser.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")

    tls_context = None
    if args.tls_cert:
        tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls_context.load_cert_chain(args.tls_cert, args.tls_key)

    state = ReceiverState(args.keys, args.tolerance, args.log)
    server = ReceiverServer((args.host, args.port), state, tls_context, args.verbose)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    host, port = server.server_address[:2]
    print(f"listening on {host}:{port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
