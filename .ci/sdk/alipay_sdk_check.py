#!/usr/bin/env python3
"""Drives walletgate's mock Alipay open platform with Alipay's official Python
SDK (alipay-sdk-python, from PyPI), unchanged but for the gateway URL: the
app id and keys come from GET /mock/alipay/keys, the SDK signs every request
with the app's private key and verifies every answer with the platform's
public key itself (its DefaultAlipayClient raises on a bad signature).

It walks: a mock user consents on the authorize page (plain HTTP, as a
browser would) -> alipay.system.oauth.token (code, then refresh) ->
alipay.user.info.share -> alipay.fund.trans.uni.transfer (and the same
out_biz_no again, answered with the same order) -> alipay.fund.trans.common.query
(by out_biz_no and by order_id) -> a transfer to a frozen payee (40004
PAYEE_ACCOUNT_STATUS_ERROR) -> a client holding the wrong platform key, whose
SDK must refuse the answer.

Usage: python alipay_sdk_check.py [BASE_URL]   (default http://127.0.0.1)
The SDK connects to port 80 for http:// (443 for https://) whatever port the
URL names (alipay/aop/api/util/WebUtils.py, get_http_connection), so the
gateway must listen there: start walletgate with `--port 80`.
Exits 0 when every step passed, 1 at the first failure.
"""

import json
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid

import sdk_common
from sdk_common import NoRedirect, check

from alipay.aop.api.AlipayClientConfig import AlipayClientConfig
from alipay.aop.api.DefaultAlipayClient import DefaultAlipayClient
from alipay.aop.api.domain.AlipayFundTransCommonQueryModel import AlipayFundTransCommonQueryModel
from alipay.aop.api.domain.AlipayFundTransUniTransferModel import AlipayFundTransUniTransferModel
from alipay.aop.api.domain.Participant import Participant
from alipay.aop.api.exception.Exception import ResponseException
from alipay.aop.api.request.AlipayFundTransCommonQueryRequest import AlipayFundTransCommonQueryRequest
from alipay.aop.api.request.AlipayFundTransUniTransferRequest import AlipayFundTransUniTransferRequest
from alipay.aop.api.request.AlipaySystemOauthTokenRequest import AlipaySystemOauthTokenRequest
from alipay.aop.api.request.AlipayUserInfoShareRequest import AlipayUserInfoShareRequest
from alipay.aop.api.response.AlipayFundTransCommonQueryResponse import AlipayFundTransCommonQueryResponse
from alipay.aop.api.response.AlipayFundTransUniTransferResponse import AlipayFundTransUniTransferResponse
from alipay.aop.api.response.AlipaySystemOauthTokenResponse import AlipaySystemOauthTokenResponse
from alipay.aop.api.response.AlipayUserInfoShareResponse import AlipayUserInfoShareResponse

BASE = (sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1").rstrip("/")
REDIRECT_URI = "http://127.0.0.1/alipay/callback"


def http_json(method, path, body=None):
    return sdk_common.http_json(BASE, method, path, body)



def consent(app_id, nick_name):
    """A new mock user allows the app on the consent page; the auth_code it is sent back with."""
    form = urllib.parse.urlencode({
        "app_id": app_id, "scope": "auth_user", "redirect_uri": REDIRECT_URI, "state": "sdkcheck",
        "action": "allow", "nick_name": nick_name, "real_name": "张三",
    }).encode()
    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(BASE + "/mock/alipay/oauth2/publicAppAuthorize.htm", data=form, timeout=10)
    except urllib.error.HTTPError as redirect:
        check(redirect.code == 302, "the consent page redirects back to the app")
        query = urllib.parse.parse_qs(urllib.parse.urlparse(redirect.headers["Location"]).query)
        check(query.get("source") == ["alipay_wallet"] and query.get("state") == ["sdkcheck"],
              "the redirect carries source=alipay_wallet and the state")
        return query["auth_code"][0]
    raise AssertionError("the consent page did not redirect")


def client(app_id, app_private_key, alipay_public_key):
    config = AlipayClientConfig()
    config.server_url = BASE + "/mock/alipay/gateway.do"
    config.app_id = app_id
    config.app_private_key = app_private_key
    config.alipay_public_key = alipay_public_key
    config.sign_type = "RSA2"
    return DefaultAlipayClient(alipay_client_config=config)


def parsed(response_class, content):
    response = response_class()
    response.parse_response_content(content)
    return response


def transfer(sdk, out_biz_no, amount, user_id):
    model = AlipayFundTransUniTransferModel()
    model.out_biz_no = out_biz_no
    model.trans_amount = amount
    model.product_code = "TRANS_ACCOUNT_NO_PWD"
    model.biz_scene = "DIRECT_TRANSFER"
    model.order_title = "OK钱包提现"
    payee = Participant()
    payee.identity = user_id
    payee.identity_type = "ALIPAY_USER_ID"
    model.payee_info = payee
    request = AlipayFundTransUniTransferRequest(biz_model=model)
    return parsed(AlipayFundTransUniTransferResponse, sdk.execute(request))


def query(sdk, **by):
    model = AlipayFundTransCommonQueryModel()
    for name, value in by.items():
        setattr(model, name, value)
    request = AlipayFundTransCommonQueryRequest(biz_model=model)
    return parsed(AlipayFundTransCommonQueryResponse, sdk.execute(request))


def main():
    parts = urllib.parse.urlparse(BASE)
    default_port = {"http": 80, "https": 443}.get(parts.scheme)
    if parts.port not in (None, default_port):
        raise AssertionError("the official SDK reaches only port %s for %s://; serve walletgate there (--port %s)"
                             % (default_port, parts.scheme, default_port))
    keys = http_json("GET", "/mock/alipay/keys")
    app_id = keys["app_id"]
    check(keys["sign_type"] == "RSA2", "the mock publishes app %s with RSA2 keys" % app_id)
    sdk = client(app_id, keys["app_private_key_pkcs1"], keys["alipay_public_key"])

    code = consent(app_id, "SDK用户")
    request = AlipaySystemOauthTokenRequest()
    request.grant_type = "authorization_code"
    request.code = code
    token = parsed(AlipaySystemOauthTokenResponse, sdk.execute(request))
    check(token.is_success() and token.access_token.startswith("authusrB"), "oauth.token exchanges the auth_code")
    check(token.expires_in == 1296000 and token.re_expires_in == 2592000, "tokens live 15 and 30 days")
    again = parsed(AlipaySystemOauthTokenResponse, sdk.execute(request))
    check(again.sub_code == "isv.code-invalid", "the auth_code is single-use (isv.code-invalid)")

    refresh = AlipaySystemOauthTokenRequest()
    refresh.grant_type = "refresh_token"
    refresh.refresh_token = token.refresh_token
    refreshed = parsed(AlipaySystemOauthTokenResponse, sdk.execute(refresh))
    check(refreshed.is_success() and refreshed.access_token != token.access_token, "oauth.token refreshes")

    share = AlipayUserInfoShareRequest()
    share.add_other_text_param("auth_token", refreshed.access_token)
    info = parsed(AlipayUserInfoShareResponse, sdk.execute(share))
    check(info.is_success() and info.nick_name == "SDK用户", "user.info.share returns the profile")
    check(info.open_id == token.open_id, "the user is the same open_id")

    payee = http_json("POST", "/mock/alipay/users", {"nick_name": "收款人", "real_name": "李四"})
    out_biz_no = "sdk" + uuid.uuid4().hex
    paid = transfer(sdk, out_biz_no, "12.34", payee["user_id"])
    check(paid.is_success() and paid.status == "SUCCESS" and paid.order_id, "uni.transfer pays: " + str(paid.order_id))
    repeat = transfer(sdk, out_biz_no, "12.34", payee["user_id"])
    check(repeat.order_id == paid.order_id, "the same out_biz_no answers the same order")
    wallet = http_json("GET", "/mock/alipay/users/" + payee["user_id"])["wallet"]
    check(wallet["balance"] == "12.34", "the payee was paid once")

    found = query(sdk, out_biz_no=out_biz_no, product_code="TRANS_ACCOUNT_NO_PWD", biz_scene="DIRECT_TRANSFER")
    check(found.is_success() and found.status == "SUCCESS" and found.trans_amount == "12.34",
          "common.query finds it by out_biz_no")
    by_order = query(sdk, order_id=paid.order_id)
    check(by_order.out_biz_no == out_biz_no, "common.query finds it by order_id")

    frozen = http_json("POST", "/mock/alipay/users", {"nick_name": "冻结", "frozen": True})
    refused = transfer(sdk, "sdk" + uuid.uuid4().hex, "1.00", frozen["user_id"])
    check(not refused.is_success() and refused.code == "40004" and refused.sub_code == "PAYEE_ACCOUNT_STATUS_ERROR",
          "a frozen payee fails with 40004 PAYEE_ACCOUNT_STATUS_ERROR")

    # The SDK checks the platform's signature itself: holding the wrong key, it refuses the answer.
    wrong = client(app_id, keys["app_private_key_pkcs1"], keys["app_public_key"])
    try:
        query(wrong, order_id=paid.order_id)
    except ResponseException as error:
        check("sign verify failed" in str(error), "an SDK holding the wrong platform key refuses the answer")
    else:
        raise AssertionError("an answer verified with the wrong key was accepted")
    print("all Alipay SDK checks passed against " + BASE)


if __name__ == "__main__":
    try:
        main()
    except (AssertionError, ResponseException, urllib.error.URLError) as failure:
        print("FAILED: %s" % failure, file=sys.stderr)
        sys.exit(1)
