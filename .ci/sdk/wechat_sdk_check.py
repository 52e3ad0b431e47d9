#!/usr/bin/env python3
"""Drives walletgate's mock WeChat with third-party SDKs from PyPI, unchanged
but for their base URLs:

- WeChat Pay v3 with wechatpayv3 (public-key mode: `public_key` and
  `public_key_id`), configured from GET /mock/wechat/keys. The SDK signs
  every request with the merchant's key and verifies every 2xx answer with
  the platform's public key itself (it raises on a bad signature). It walks:
  mch_transfer_bills (a transfer bill) -> the same out_bill_no again (the
  same bill) -> mch_transfer_bills_query by out_bill_no and by
  transfer_bill_no -> a client holding the wrong platform key, whose SDK
  must refuse the answer -> a client signing with the wrong key, refused
  with 401 SIGN_ERROR -> two 2,000-yuan bills with user_name (which the SDK
  encrypts with the platform key, sending Wechatpay-Serial): the payee's
  own name pays, another fails NAME_NOT_CORRECT -> a bill with a notify_url (a small local HTTP
  server): the SDK's own callback() checks the mock's
  MCHTRANSFER.BILL.FINISHED (signature) and decrypts it (APIv3 key).
- WeChat OAuth with wechatpy's WeChatOAuth: its authorize URL -> the mock's
  consent page, allowed as a browser would -> fetch_access_token (the code)
  -> get_user_info -> check_access_token -> refresh_access_token.

Usage: python wechat_sdk_check.py [BASE_URL]   (default http://127.0.0.1:8080)
The OAuth app secret is WECHAT_APP_SECRET (default: the shipped development
value of mock_wechat.app_secret).
Exits 0 when every step passed, 1 at the first failure.
"""

import html
import http.server
import json
import os
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import sdk_common
from sdk_common import NoRedirect, check

from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpy.exceptions import WeChatOAuthException
from wechatpy.oauth import WeChatOAuth

BASE = (sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080").rstrip("/")
APP_SECRET = os.environ.get("WECHAT_APP_SECRET", "walletgate-mock-wechat-app-secret-0001")
REDIRECT_URI = "http://127.0.0.1/wechat/callback"


def http_json(method, path, body=None):
    return sdk_common.http_json(BASE, method, path, body)


def pay_client(keys, private_key=None, public_key=None):
    """wechatpayv3 as documented, in public-key mode; only the gateway is the mock's."""
    sdk = WeChatPay(
        wechatpay_type=WeChatPayType.NATIVE,
        mchid=keys["mchid"],
        private_key=private_key or keys["merchant_private_key"],
        cert_serial_no=keys["merchant_serial_no"],
        appid=keys["appid"],
        apiv3_key=keys["apiv3_key"],
        public_key=public_key or keys["platform_public_key"],
        public_key_id=keys["platform_public_key_id"],
        timeout=(5, 10),
    )
    # The SDK's base URL (https://api.mch.weixin.qq.com by default); it signs the /v3/... path after it.
    sdk._core._gate_way = BASE + "/mock/wechat"
    return sdk


def check_wechat_pay():
    keys = http_json("GET", "/mock/wechat/keys")
    check(keys["signature_type"] == "WECHATPAY2-SHA256-RSA2048",
          "the mock publishes merchant %s with key id %s" % (keys["mchid"], keys["platform_public_key_id"]))
    sdk = pay_client(keys)
    payee = http_json("POST", "/mock/wechat/users", {"nickname": "SDK收款人"})
    out_bill_no = "sdk" + uuid.uuid4().hex[:24]

    code, text = sdk.mch_transfer_bills(out_bill_no=out_bill_no, transfer_scene_id="1000", openid=payee["openid"],
                                        transfer_amount=1234, transfer_remark="SDK check")
    created = json.loads(text)
    # A bill answers ACCEPTED and moves on by itself (ACCEPTED 2 s, PROCESSING 3 s by default).
    check(code == 200 and created["state"] == "ACCEPTED", "mch_transfer_bills accepts the bill (answer verified): " + text)
    code, text = sdk.mch_transfer_bills(out_bill_no=out_bill_no, transfer_scene_id="1000", openid=payee["openid"],
                                        transfer_amount=1234, transfer_remark="SDK check")
    check(code == 200 and json.loads(text)["transfer_bill_no"] == created["transfer_bill_no"],
          "the same out_bill_no answers the same bill")

    found = {}
    for _ in range(60):
        code, text = sdk.mch_transfer_bills_query(out_bill_no=out_bill_no)
        found = json.loads(text)
        if code != 200 or found["state"] in ("SUCCESS", "FAIL"):
            break
        time.sleep(0.5)
    check(code == 200 and found["transfer_amount"] == 1234 and found["state"] == "SUCCESS",
          "mch_transfer_bills_query finds it by out_bill_no, SUCCESS once it has moved on: " + text)
    wallet = http_json("GET", "/mock/wechat/users/" + payee["openid"])["wallet"]
    check(wallet["balance"] == "12.34", "the payee was paid once")
    code, text = sdk.mch_transfer_bills_query(transfer_bill_no=created["transfer_bill_no"])
    check(code == 200 and json.loads(text)["out_bill_no"] == out_bill_no,
          "mch_transfer_bills_query finds it by transfer_bill_no")
    code, text = sdk.mch_transfer_bills_query(out_bill_no="sdkNEVER" + uuid.uuid4().hex[:8])
    check(code == 404 and json.loads(text)["code"] == "NOT_FOUND", "an unknown bill is 404 NOT_FOUND")

    # The SDK checks the platform's signature itself: holding the wrong key, it refuses the answer.
    wrong_platform = pay_client(keys, public_key=keys["merchant_public_key"])
    try:
        wrong_platform.mch_transfer_bills_query(out_bill_no=out_bill_no)
    except Exception as error:  # the SDK raises a bare Exception
        check("failed to verify the signature" in str(error),
              "an SDK holding the wrong platform key refuses the answer")
    else:
        raise AssertionError("an answer verified with the wrong platform key was accepted")

    # And the mock checks the merchant's: signed with another key, the request is refused.
    other_key = pay_client(keys, private_key=_other_private_key())
    code, text = other_key.mch_transfer_bills_query(out_bill_no=out_bill_no)
    check(code == 401 and json.loads(text)["code"] == "SIGN_ERROR", "a request signed with another key is 401 SIGN_ERROR")

    check_wechat_pay_real_name(sdk)
    check_wechat_pay_notification(keys, sdk)


def check_wechat_pay_real_name(sdk):
    """From 2,000 yuan a bill names its payee: the SDK encrypts user_name with the platform key and names
    the key in Wechatpay-Serial; the mock decrypts it and checks it against the payee's real name."""
    payee = http_json("POST", "/mock/wechat/users", {"nickname": "SDK实名", "real_name": "张三丰"})
    named = "sdkr" + uuid.uuid4().hex[:24]
    code, text = sdk.mch_transfer_bills(out_bill_no=named, transfer_scene_id="1000", openid=payee["openid"],
                                        transfer_amount=200000, transfer_remark="SDK real name", user_name="张三丰")
    check(code == 200, "a 2,000 yuan bill with user_name encrypted by the SDK is accepted: " + text)
    misnamed = "sdkw" + uuid.uuid4().hex[:24]
    code, text = sdk.mch_transfer_bills(out_bill_no=misnamed, transfer_scene_id="1000", openid=payee["openid"],
                                        transfer_amount=200000, transfer_remark="SDK real name", user_name="张三")
    check(code == 200, "a bill naming someone else is accepted, to be decided: " + text)
    states = {}
    for _ in range(60):
        states = {out_bill_no: json.loads(sdk.mch_transfer_bills_query(out_bill_no=out_bill_no)[1])
                  for out_bill_no in (named, misnamed)}
        if all(bill["state"] in ("SUCCESS", "FAIL") for bill in states.values()):
            break
        time.sleep(0.5)
    check(states[named]["state"] == "SUCCESS", "the payee's own name pays: %s" % states[named])
    check(states[misnamed]["state"] == "FAIL" and states[misnamed]["fail_reason"] == "NAME_NOT_CORRECT",
          "another name fails NAME_NOT_CORRECT: %s" % states[misnamed])
    transfers = http_json("GET", "/mock/wechat/users/" + payee["openid"])["wallet"]["transfers"]
    check([t["user_name"] for t in transfers] == ["张三丰"], "the mock decrypted the name: %s" % transfers)


class NotifyReceiver(http.server.BaseHTTPRequestHandler):
    """A merchant's notify_url: keeps each notification's headers and body, answers 204."""

    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        NotifyReceiver.received.append(({name: value for name, value in self.headers.items()}, body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def check_wechat_pay_notification(keys, sdk):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotifyReceiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        notify_url = "http://127.0.0.1:%d/wechatpay/notify" % server.server_address[1]
        payee = http_json("POST", "/mock/wechat/users", {"nickname": "SDK通知"})
        out_bill_no = "sdkn" + uuid.uuid4().hex[:24]
        code, text = sdk.mch_transfer_bills(out_bill_no=out_bill_no, transfer_scene_id="1000",
                                            openid=payee["openid"], transfer_amount=250,
                                            transfer_remark="SDK notify", notify_url=notify_url)
        check(code == 200, "a bill with a notify_url: " + text)
        for _ in range(60):
            if NotifyReceiver.received:
                break
            time.sleep(0.5)
        check(NotifyReceiver.received, "the mock told the bill's final state to its notify_url")
        headers, body = NotifyReceiver.received[0]
        told = sdk.callback(headers, body)
        check(told is not None and told["event_type"] == "MCHTRANSFER.BILL.FINISHED",
              "wechatpayv3's callback() verifies the notification's signature")
        resource = told["resource"]
        check(resource["out_bill_no"] == out_bill_no and resource["state"] == "SUCCESS"
              and resource["transfer_amount"] == 250 and resource["mchid"] == keys["mchid"],
              "and decrypts its resource with the APIv3 key: %s" % resource)
        tampered = body.replace(b"MCHTRANSFER", b"MCHTRANSFEX")
        check(sdk.callback(headers, tampered) is None, "a changed notification fails the SDK's signature check")
    finally:
        server.shutdown()


def _other_private_key():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()



def consent(authorize_url, nickname):
    """Opens the authorize URL and allows it for a new user, as a browser would; the redirect's query."""
    page_url = authorize_url.split("#", 1)[0]  # browsers never send the fragment
    with urllib.request.urlopen(page_url, timeout=10) as response:
        page = response.read().decode()
    form = {html.unescape(name): html.unescape(value)
            for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)}
    check("appid" in form and "redirect_uri" in form, "the consent page carries the request in its form")
    form.update({"action": "allow", "nickname": nickname})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(page_url.split("?", 1)[0], data=urllib.parse.urlencode(form).encode(), timeout=10)
    except urllib.error.HTTPError as redirect:
        check(redirect.code == 302, "allowing redirects back to the app")
        location = redirect.headers["Location"]
        check(location.startswith(REDIRECT_URI), "to the redirect_uri: " + location)
        return urllib.parse.parse_qs(urllib.parse.urlparse(location).query)
    raise AssertionError("the consent page did not redirect")


def check_wechat_oauth():
    keys = http_json("GET", "/mock/wechat/keys")
    oauth = WeChatOAuth(app_id=keys["appid"], secret=APP_SECRET, redirect_uri=REDIRECT_URI,
                        scope="snsapi_userinfo", state="sdkcheck")
    # The SDK's base URLs (https://api.weixin.qq.com/ and https://open.weixin.qq.com/connect/).
    oauth.API_BASE_URL = BASE + "/mock/wechat/"
    oauth.OAUTH_BASE_URL = BASE + "/mock/wechat/connect/"
    query = consent(oauth.authorize_url, "SDK用户")
    check(query.get("state") == ["sdkcheck"] and query.get("code"), "the redirect carries a code and the state")

    token = oauth.fetch_access_token(query["code"][0])
    check(token["access_token"] and token["expires_in"] == 7200 and token["scope"] == "snsapi_userinfo",
          "fetch_access_token exchanges the code")
    try:
        oauth.fetch_access_token(query["code"][0])
    except WeChatOAuthException as error:
        check(error.errcode in (40029, 40163), "the code is single-use (%s)" % error.errcode)
    else:
        raise AssertionError("a used code was exchanged again")
    info = oauth.get_user_info()
    check(info["openid"] == token["openid"] and info["nickname"] == "SDK用户", "get_user_info returns the profile")
    check(oauth.check_access_token(), "check_access_token (sns/auth) accepts the token")
    refreshed = oauth.refresh_access_token(token["refresh_token"])
    check(refreshed["openid"] == token["openid"] and refreshed["access_token"], "refresh_access_token refreshes")


def main():
    check_wechat_pay()
    check_wechat_oauth()
    print("all WeChat SDK checks passed against " + BASE)


if __name__ == "__main__":
    try:
        main()
    except (AssertionError, WeChatOAuthException, urllib.error.URLError) as failure:
        print("FAILED: %s" % failure, file=sys.stderr)
        sys.exit(1)
