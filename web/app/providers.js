// The two places a withdrawal can go, a WeChat wallet (微信零钱) and an
// Alipay account (支付宝): their order on screen, their marks (WeChat's green
// "W", Alipay's blue "支") and how an item of the API names its provider.
// Words that differ by provider are messages keyed `<key>.<provider>`.

import { h } from "/shared/dom.js";

/** Every destination, in the order the screens list them. */
export const PROVIDERS = ["wechat", "alipay"];

const MARKS = { wechat: "W", alipay: "支" };

/** A binding's, quote's or withdrawal's provider (`destination.provider` for the latter two); WeChat when unsaid. */
export function providerOf(item) {
  const provider = item?.provider ?? item?.destination?.provider;
  return PROVIDERS.includes(provider) ? provider : "wechat";
}

/** The provider named by a route or query parameter, or null. */
export function providerNamed(text) {
  return PROVIDERS.includes(text) ? text : null;
}

/** The provider's mark, for the eye only (the words beside it name the provider). */
export function providerMark(provider, size = "") {
  return h("span", { className: `${provider}-mark ${size}`.trim(), "aria-hidden": "true" }, MARKS[provider]);
}

/** The active binding of each provider that has one, in PROVIDERS order. */
export function activeBindings(items) {
  return PROVIDERS.map((provider) =>
    items.find((item) => item.status === "active" && providerOf(item) === provider),
  ).filter(Boolean);
}

/** What `provider`'s free fee quota leaves in `wallet` (`fee_free_quota_remaining` is WeChat's). */
export function freeQuota(wallet, provider) {
  const quota = (wallet.fee_free_quotas ?? []).find((item) => item.provider === provider);
  return quota?.remaining ?? (provider === "wechat" ? wallet.fee_free_quota_remaining : null);
}
