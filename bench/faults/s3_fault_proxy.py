#!/usr/bin/env python3
"""A fault-injecting HTTP proxy in front of an S3 endpoint (moto), for tresor's fault campaign.

    s3_fault_proxy.py UPSTREAM_URL [--port N]

Prints `listening on 127.0.0.1:PORT` once ready, then forwards every request to UPSTREAM_URL
(plain HTTP/1.1, keep-alive; the Host header and the SigV4 signature pass unchanged). Faults
are armed over HTTP on the proxy itself, never forwarded:

    POST /__fault__   {"kind": K, "method": "PUT", "path": "substring", "target": "substring",
                       "skip": 0, "count": 1, "secs": 2}
    DELETE /__fault__ disarms all
    GET /__log__      JSON list of {method, path, target, status, fault} for every request seen

`target` matches the X-Amz-Target header of JSON-protocol calls on the same endpoint (KMS:
`TrentService.Encrypt`, `TrentService.Decrypt`, ...); a rule with a target matches only such
calls, and its 500/503 answers are JSON errors (`KMSInternalException`) as KMS sends them.

Kinds, applied to the `count` requests after `skip` that match method, path and target:
    500          answer 500 InternalError, request not forwarded
    503          answer 503 SlowDown, request not forwarded
    reset        reset the connection (TCP RST) before forwarding: the write did not happen
    reset-after  forward, then reset instead of answering: the write happened, unacknowledged
    close-after  forward, then close the connection cleanly (FIN) instead of answering: the
                 write happened, and the client sees an incomplete answer (which HTTP clients
                 may take for a request never sent, and send again)
    stall        wait `secs` seconds, then forward
    412          answer 412 PreconditionFailed, request not forwarded (a lost race)
Standard library only: runs on any python3.
"""
import http.client
import json
import socket
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
RULES = []
LOG = []
UPSTREAM = None

ERRORS = {
    "500": (500, "InternalError", "We encountered an internal error. Please try again."),
    "503": (503, "SlowDown", "Please reduce your request rate."),
    "412": (412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold"),
}


def take_fault(method, path, target):
    with LOCK:
        for r in RULES:
            if r["count"] <= 0:
                continue
            if r.get("method") and r["method"] != method:
                continue
            if r.get("path") and r["path"] not in path:
                continue
            if r.get("target") and r["target"] not in target:
                continue
            if r.get("skip", 0) > 0:
                r["skip"] -= 1
                continue
            r["count"] -= 1
            return r
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def reply(self, status, data, ctype="application/json", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def reset(self):
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def control(self, method):
        global RULES
        if self.path == "/__fault__" and method == "POST":
            rule = json.loads(self.body() or b"{}")
            rule.setdefault("count", 1)
            with LOCK:
                RULES.append(rule)
            return self.reply(200, b"{}")
        if self.path == "/__fault__" and method == "DELETE":
            self.body()
            with LOCK:
                RULES = []
            return self.reply(200, b"{}")
        if self.path == "/__log__":
            self.body()
            with LOCK:
                data = json.dumps(LOG).encode()
            return self.reply(200, data)
        return self.reply(404, b"{}")

    def handle_any(self):
        method = self.command
        if self.path.startswith("/__"):
            return self.control(method)
        body = self.body()
        path = urllib.parse.unquote(self.path)
        target = self.headers.get("X-Amz-Target") or ""
        rule = take_fault(method, path, target)
        kind = rule["kind"] if rule else None
        entry = {"method": method, "path": path, "target": target, "fault": kind, "status": None}
        with LOCK:
            LOG.append(entry)
        if kind in ERRORS and target:
            status, code, msg = ERRORS[kind]
            entry["status"] = status
            kms = {500: "KMSInternalException", 503: "KMSInternalException"}.get(status, code)
            data = json.dumps({"__type": kms, "message": msg}).encode()
            return self.reply(status, data, "application/x-amz-json-1.1")
        if kind in ERRORS:
            status, code, msg = ERRORS[kind]
            entry["status"] = status
            xml = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
                   f"<Message>{msg}</Message></Error>").encode()
            return self.reply(status, xml, "application/xml")
        if kind == "reset":
            return self.reset()
        if kind == "stall":
            time.sleep(float(rule.get("secs", 2)))
        up = http.client.HTTPConnection(UPSTREAM.hostname, UPSTREAM.port, timeout=120)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
        up.request(method, self.path, body=body if body or method in ("PUT", "POST") else None,
                   headers=headers)
        resp = up.getresponse()
        data = resp.read()
        up.close()
        entry["status"] = resp.status
        if kind == "reset-after":
            return self.reset()
        if kind == "close-after":
            self.close_connection = True
            return self.connection.shutdown(socket.SHUT_RDWR)
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() in ("transfer-encoding", "content-length", "connection", "server", "date"):
                continue
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


def main():
    global UPSTREAM
    UPSTREAM = urllib.parse.urlparse(sys.argv[1])
    port = int(sys.argv[sys.argv.index("--port") + 1]) if "--port" in sys.argv else 0
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    print(f"listening on 127.0.0.1:{srv.server_address[1]}", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
