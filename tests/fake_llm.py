"""A fake model server on a free loopback port: the Anthropic Messages API (``POST
/v1/messages``) and the OpenAI-compatible chat completions API (``POST /v1/chat/completions``),
answering with ``server.answer``, which a test sets. Every request body is kept in
``server.requests``, so a test can read the prompt. Tests never reach the network (issue 19)."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeLLM(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answer = "SELECT 1"
        self.requests: list[dict] = []
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: FakeLLM

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        self.server.requests.append({"path": self.path, "body": body})
        answer = self.server.answer
        if self.path == "/v1/messages":
            reply = {"id": "msg_fake", "type": "message", "role": "assistant",
                     "model": body.get("model"), "content": [{"type": "text", "text": answer}],
                     "stop_reason": "end_turn", "stop_sequence": None,
                     "usage": {"input_tokens": 1, "output_tokens": 1}}
        elif self.path == "/v1/chat/completions":
            reply = {"id": "chat_fake", "object": "chat.completion", "model": body.get("model"),
                     "choices": [{"index": 0, "finish_reason": "stop",
                                  "message": {"role": "assistant", "content": answer}}]}
        else:
            self.send_error(404)
            return
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args) -> None:  # quiet
        pass
