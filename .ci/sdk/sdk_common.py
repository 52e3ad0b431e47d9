"""What the SDK checks of .ci/sdk share: a step's check, a JSON call to a
mock's own endpoints (users, keys), and an opener that does not follow
redirects (the consent pages answer with one)."""

import json
import urllib.request


def check(condition, what):
    if not condition:
        raise AssertionError(what)
    print("ok  " + what)


def http_json(base, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("content-type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
