#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""HTTP(S) test server for tests/cli/fetch.sh, with fault modes chosen by path.

Serves files from --dir on 127.0.0.1 (port 0: the chosen port goes to --port-file).
Every request is appended to --log as a JSON line {"method", "path", "range"}.

  /ok/NAME               the file; honours Range (206) and says Accept-Ranges
  /404/NAME, /403/NAME   that status
  /fail500/N/NAME        first N requests to this path: 500, then /ok
  /429/NAME              first request: 429 with Retry-After: 1, then /ok
  /cut/NAME              first request: Content-Length + Accept-Ranges, closes after
                         half the body; then /ok (Range -> 206)
  /norange-cut/NAME      first request cut as above (still claims Accept-Ranges);
                         later requests ignore Range and send 200 with everything
  /slow/NAME             Content-Length, then one byte per second
  /wrong/NAME            the file with every byte inverted (same length)
  /nolength/NAME         the file without Content-Length (ends at close)
  /redirect/NAME         302 to /ok/NAME
  /redirect-ftp/NAME     302 to ftp://127.0.0.1/NAME
  /loop                  302 to itself
"""
import argparse
import json
import os
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARGS = None
LOCK = threading.Lock()
COUNTS = {}


def count(path):
    with LOCK:
        COUNTS[path] = COUNTS.get(path, 0) + 1
        return COUNTS[path]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def log_request_line(self):
        entry = {"method": self.command, "path": self.path,
                 "range": self.headers.get("Range")}
        with LOCK, open(ARGS.log, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def load(self, name):
        path = os.path.join(ARGS.dir, os.path.basename(name))
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError:
            return None

    def simple(self, code, headers=(), body=b""):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def serve(self, data, ranges=True):
        start = 0
        rng = self.headers.get("Range")
        if ranges and rng and rng.startswith("bytes="):
            first, _, last = rng[6:].partition("-")
            start = int(first)
            end = int(last) + 1 if last else len(data)
            if start >= len(data):
                self.simple(416, [("Content-Range", "bytes */%d" % len(data))])
                return
            self.send_response(206)
            self.send_header("Content-Range",
                             "bytes %d-%d/%d" % (start, end - 1, len(data)))
            data = data[start:end]
        else:
            self.send_response(200)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def cut(self, data):
        self.send_response(200)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def do_GET(self):
        self.log_request_line()
        parts = self.path.split("?")[0].strip("/").split("/")
        mode, name = parts[0], parts[-1]
        if mode == "loop":
            return self.simple(302, [("Location", "/loop")])
        if mode == "redirect":
            return self.simple(302, [("Location", "/ok/" + name)])
        if mode == "redirect-ftp":
            return self.simple(302, [("Location", "ftp://127.0.0.1/" + name)])
        if mode in ("404", "403"):
            return self.simple(int(mode), body=b"no\n")
        data = self.load(name)
        if data is None:
            return self.simple(404, body=b"no such file\n")
        n = count(self.path)
        if mode == "ok":
            return self.serve(data)
        if mode == "fail500":
            if n <= int(parts[1]):
                return self.simple(500, body=b"try again\n")
            return self.serve(data)
        if mode == "429":
            if n == 1:
                return self.simple(429, [("Retry-After", "1")], b"slow down\n")
            return self.serve(data)
        if mode == "cut":
            return self.cut(data) if n == 1 else self.serve(data)
        if mode == "norange-cut":
            return self.cut(data) if n == 1 else self.serve(data, ranges=False)
        if mode == "wrong":
            return self.serve(bytes(b ^ 0xFF for b in data))
        if mode == "nolength":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
            self.close_connection = True
            return None
        if mode == "slow":
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            try:
                for i in range(min(len(data), 120)):
                    self.wfile.write(data[i : i + 1])
                    self.wfile.flush()
                    time.sleep(1)
            except OSError:
                pass
            self.close_connection = True
            return None
        return self.simple(400, body=b"unknown mode\n")


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # Clients hanging up on purpose (size limits, timeouts) are expected.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    ARGS = p.parse_args()
    httpd = Server(("127.0.0.1", 0), Handler)
    if ARGS.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ARGS.tls_cert, ARGS.tls_key)
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    tmp = ARGS.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % httpd.server_address[1])
    os.rename(tmp, ARGS.port_file)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
