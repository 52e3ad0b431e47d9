//! Transfers to Alipay accounts on the mock: `alipay.fund.trans.uni.transfer`
//! (`TRANS_ACCOUNT_NO_PWD`, `DIRECT_TRANSFER`), idempotent by `out_biz_no`,
//! with the payee checks, limits and `sub_code`s of reference §B; and
//! `alipay.fund.trans.common.query`.
//!
//! An order is a document of `alipay_transfer_orders` keyed by its
//! `out_biz_no`. A transfer that pays writes, in one multi-document
//! compare-and-set, the order (SUCCESS), the payee's credited wallet and the
//! merchant's debited balance: the order exists as paid exactly when the
//! money moved, so any number of callers may send the same request at once,
//! or again after a lost answer, and it pays once. A payee-side refusal is
//! kept as a FAIL order (the same request answers the same failure; paying
//! again takes a new `out_biz_no`); a payer-side one (balance, the
//! merchant's limits) and `SYSTEM_ERROR` keep nothing, so the same
//! `out_biz_no` can be sent again once the cause is gone. A `DEALING` order
//! (forced by the simulator) moved nothing yet; the next call it is not
//! forced on decides it.

#[allow(unused_imports)]
use super::*;

use super::super::protocol::{GatewayCode, beijing_date, beijing_time};
use crate::providers::payouts::fen_from_money;
use crate::retry::Rounds;
use crate::store::DocumentWrite;
use crate::store::typed::encode_document;

/// The document collection of orders; a document's id is the `out_biz_no`.
pub const ORDERS_COLLECTION: &str = "alipay_transfer_orders";
/// Index documents: an `order_id` or `pay_fund_order_id` → `{"out_biz_no"}`.
pub const ORDER_NUMBERS_COLLECTION: &str = "alipay_transfer_order_numbers";
/// The merchant's account (balance and what it paid), keyed by app id.
pub const MERCHANTS_COLLECTION: &str = "alipay_merchants";
pub const PRODUCT_CODE: &str = "TRANS_ACCOUNT_NO_PWD";
pub const BIZ_SCENE: &str = "DIRECT_TRANSFER";
/// The products Alipay has that the mock's merchant has not signed.
const UNSIGNED_PRODUCTS: &[&str] = &["TRANS_BANKCARD_NO_PWD", "STD_RED_PACKET"];
const OUT_BIZ_NO_CHARS_MAX: usize = 64;
const ORDER_TITLE_CHARS_MAX: usize = 128;
const REMARK_CHARS_MAX: usize = 200;
const NAME_CHARS_MAX: usize = 64;
const IDENTITY_CHARS_MAX: usize = 100;
/// `trans_amount` for `TRANS_ACCOUNT_NO_PWD`: [0.10, 100000000.00].
const AMOUNT_MIN_FEN: i64 = 10;
const AMOUNT_MAX_FEN: i64 = 10_000_000_000;
/// A single transfer of this much (¥50,000.00) or more needs a `remark`.
const MEMO_REQUIRED_FEN: i64 = 5_000_000;
/// The most decisions one call takes: each lost race (another transfer to
/// the payee or from the merchant landing in between) costs one more.
const ORDER_ATTEMPTS_MAX: u32 = 64;
/// Attempts past this many wait a growing random pause first, so that
/// concurrent transfers from the one merchant take turns.
const ORDER_ATTEMPTS_UNCONTENDED: u32 = 2;

/// How `payee_info.identity` names the payee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IdentityType {
    /// The `2088…` user id.
    #[serde(rename = "ALIPAY_USER_ID")]
    UserId,
    /// The user's open id for this app.
    #[serde(rename = "ALIPAY_OPEN_ID")]
    OpenId,
    /// The mobile number or email the user logs in with (`name` required).
    #[serde(rename = "ALIPAY_LOGON_ID")]
    LogonId,
}

impl IdentityType {
    pub fn parse(text: &str) -> Option<IdentityType> {
        match text {
            "ALIPAY_USER_ID" => Some(IdentityType::UserId),
            "ALIPAY_OPEN_ID" => Some(IdentityType::OpenId),
            "ALIPAY_LOGON_ID" => Some(IdentityType::LogonId),
            _ => None,
        }
    }

    /// Whether `user` has `identity` as this kind of id.
    pub fn names(self, user: &MockAlipayUser, identity: &str) -> bool {
        match self {
            IdentityType::UserId => user.user_id == identity,
            IdentityType::OpenId => user.open_id == identity,
            IdentityType::LogonId => user.logon_id == identity,
        }
    }
}

/// `payee_info`, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payee {
    pub identity: String,
    pub identity_type: IdentityType,
    /// Checked against the payee's certified name when given; required for logon ids.
    pub name: Option<String>,
}

/// An `alipay.fund.trans.uni.transfer` request, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferRequest {
    pub out_biz_no: String,
    pub trans_amount: Money,
    pub order_title: String,
    pub payee: Payee,
    pub remark: Option<String>,
}

/// An order's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TransferStatus {
    Success,
    /// Accepted, money not moved yet (forced by the simulator).
    Dealing,
    Fail,
}

impl TransferStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TransferStatus::Success => "SUCCESS",
            TransferStatus::Dealing => "DEALING",
            TransferStatus::Fail => "FAIL",
        }
    }
}

/// A transfer order as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferOrder {
    pub request: TransferRequest,
    pub order_id: String,
    pub pay_fund_order_id: String,
    pub status: TransferStatus,
    /// The payee's user id, once found.
    pub payee_user_id: Option<String>,
    /// A FAIL order's `sub_code` and `sub_msg`.
    pub error_code: Option<String>,
    pub fail_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `alipay_fund_trans_uni_transfer_response` fields on success (10000).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TransferAnswer {
    pub out_biz_no: String,
    pub order_id: String,
    pub pay_fund_order_id: String,
    /// `SUCCESS` or `DEALING`.
    pub status: String,
    /// When it was decided, Beijing time.
    pub trans_date: String,
}

/// `alipay_fund_trans_common_query_response` fields on success (10000).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TransferQueryAnswer {
    pub order_id: String,
    pub pay_fund_order_id: String,
    pub out_biz_no: String,
    pub trans_amount: String,
    /// `SUCCESS`, `DEALING` or `FAIL`.
    pub status: String,
    /// When it was paid (SUCCESS), Beijing time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pay_date: Option<String>,
    /// When the money reached the payee (SUCCESS: at once), Beijing time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival_time_end: Option<String>,
    pub order_fee: String,
    /// A FAIL order's reason, as the transfer answered it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_reason: Option<String>,
}

impl TransferOrder {
    fn answer(&self) -> Result<TransferAnswer, Failure> {
        if self.status == TransferStatus::Fail {
            let sub_code = self.error_code.as_deref().unwrap_or(SYSTEM_ERROR);
            return Err(Failure::new(GatewayCode::BusinessFailed, sub_code, self.fail_reason.as_deref().unwrap_or("")));
        }
        Ok(TransferAnswer {
            out_biz_no: self.request.out_biz_no.clone(),
            order_id: self.order_id.clone(),
            pay_fund_order_id: self.pay_fund_order_id.clone(),
            status: self.status.as_str().to_owned(),
            trans_date: beijing_time(self.updated_at),
        })
    }

    fn query_answer(&self) -> TransferQueryAnswer {
        let paid = (self.status == TransferStatus::Success).then(|| beijing_time(self.updated_at));
        TransferQueryAnswer {
            order_id: self.order_id.clone(),
            pay_fund_order_id: self.pay_fund_order_id.clone(),
            out_biz_no: self.request.out_biz_no.clone(),
            trans_amount: self.request.trans_amount.to_string(),
            status: self.status.as_str().to_owned(),
            pay_date: paid.clone(),
            arrival_time_end: paid,
            order_fee: "0.00".to_owned(),
            error_code: self.error_code.clone(),
            fail_reason: self.fail_reason.clone(),
        }
    }
}

/// The merchant's (the app's) account: what it can still pay out and what it paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MerchantAccount {
    pub balance: Money,
    /// What it paid on the Beijing day and month of its latest transfer.
    #[serde(default)]
    pub paid: ReceivedTotals,
}

/// How setting the merchant's balance ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MerchantUpdate {
    Updated(MerchantAccount),
    /// Transfers won every attempt; try again.
    Busy,
}

/// What an order-number index document holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct OrderNumber {
    out_biz_no: String,
}

/// An outcome a simulator rule forces on a transfer, in place of the
/// payee's and the merchant's: the seam the rules engine answers through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlipayForcing {
    /// The transfer fails with this `sub_code` (40004): `SYSTEM_ERROR` and
    /// the payer-side codes keep nothing, the others a FAIL order.
    Fail(String),
    /// The order is accepted and stays `DEALING` (nothing moves yet).
    Dealing,
}

pub const SYSTEM_ERROR: &str = "SYSTEM_ERROR";
pub const INVALID_PARAMETER: &str = "INVALID_PARAMETER";
pub const PAYMENT_INFO_INCONSISTENCY: &str = "PAYMENT_INFO_INCONSISTENCY";
pub const ORDER_NOT_EXIST: &str = "ORDER_NOT_EXIST";

/// The `sub_code`s the mock decides itself, with Alipay's `sub_msg`.
const SUB_MESSAGES: &[(&str, &str)] = &[
    ("PAYEE_NOT_EXIST", "收款账号不存在"),
    ("PAYEE_ACCOUNT_STATUS_ERROR", "收款方账户状态异常"),
    ("PAYEE_USER_INFO_ERROR", "支付宝账号和姓名不匹配，请确认姓名是否正确"),
    ("PAYEE_USERINFO_STATUS_ERROR", "收款方用户信息状态异常"),
    ("EXCEED_LIMIT_SM_AMOUNT", "单笔额度超限"),
    ("EXCEED_LIMIT_DM_AMOUNT", "日累计额度超限"),
    ("EXCEED_LIMIT_MM_AMOUNT", "月累计额度超限"),
    ("EXCEED_LIMIT_UNRN_DM_AMOUNT", "收款账户未实名，单日最多可收款1000元"),
    ("PAYER_BALANCE_NOT_ENOUGH", "付款方余额不足"),
    ("MEMO_REQUIRED_IN_TRANSFER_ERROR", "单笔转账金额达到5万元，转账备注remark必填"),
    ("PRODUCT_NOT_SIGN", "产品未签约"),
    (PAYMENT_INFO_INCONSISTENCY, "两次请求商户单号一样，但是参数不一致"),
    (SYSTEM_ERROR, "系统繁忙"),
];

/// Sub-codes about the payer (the merchant) or the call itself: no order is
/// kept, so the same `out_biz_no` may be sent again once the cause is gone.
const NOT_KEPT: &[&str] = &[
    SYSTEM_ERROR,
    "PAYER_BALANCE_NOT_ENOUGH",
    "BALANCE_IS_NOT_ENOUGH",
    "EXCEED_LIMIT_DM_AMOUNT",
    "EXCEED_LIMIT_MM_AMOUNT",
    "EXCEED_LIMIT_DM_MAX_AMOUNT",
    "PAYER_STATUS_ERROR",
    "PAYER_CERTIFY_CHECK_FAIL",
    "PAYER_USER_INFO_ERROR",
    "PAYER_PERMLIMIT_CHECK_FAILURE",
    "MEMO_REQUIRED_IN_TRANSFER_ERROR",
    "PRODUCT_NOT_SIGN",
    "RESOURCE_LIMIT_EXCEED",
    "PAYMENT_TIME_EXPIRE",
];

/// `sub_code` 40004 with Alipay's `sub_msg` (a generic one for codes the mock never decides itself).
pub fn business_failure(sub_code: &str) -> Failure {
    let sub_msg = SUB_MESSAGES.iter().find(|(code, _)| *code == sub_code).map_or("转账失败", |(_, msg)| msg);
    Failure::new(GatewayCode::BusinessFailed, sub_code, sub_msg)
}

fn invalid_parameter(message: &str) -> Failure {
    Failure::new(GatewayCode::BusinessFailed, INVALID_PARAMETER, &format!("参数有误：{message}"))
}

/// What a transfer comes to, decided on the payee and merchant as loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Pay,
    Dealing,
    /// Fails with this `sub_code`; `kept`: as a FAIL order.
    Fail {
        sub_code: String,
        kept: bool,
    },
}

impl Decision {
    fn fail(sub_code: &str) -> Decision {
        Decision::Fail { sub_code: sub_code.to_owned(), kept: !NOT_KEPT.contains(&sub_code) }
    }
}

/// Why paying `request` to `payee` from `merchant` at `now` must fail, if it
/// must, in the order the checks are made: the transfer's own size, the
/// payee (missing, frozen, identity abnormal, name mismatch, an unverified
/// payee's day), then the merchant (its day and month, its balance).
/// Days and months are Beijing ones.
pub fn decide(
    request: &TransferRequest,
    payee: Option<&MockAlipayUser>,
    merchant: &MerchantAccount,
    amounts: &MockAlipayAmounts,
    now: DateTime<Utc>,
    forcing: Option<&AlipayForcing>,
) -> Decision {
    match forcing {
        Some(AlipayForcing::Fail(sub_code)) => return Decision::fail(sub_code),
        Some(AlipayForcing::Dealing) => return Decision::Dealing,
        None => {}
    }
    let amount = request.trans_amount;
    if amount > amounts.transfer_amount_max {
        return Decision::fail("EXCEED_LIMIT_SM_AMOUNT");
    }
    if fen_from_money(amount) >= MEMO_REQUIRED_FEN && request.remark.as_deref().unwrap_or("").trim().is_empty() {
        return Decision::fail("MEMO_REQUIRED_IN_TRANSFER_ERROR");
    }
    let Some(payee) = payee else { return Decision::fail("PAYEE_NOT_EXIST") };
    if payee.frozen {
        return Decision::fail("PAYEE_ACCOUNT_STATUS_ERROR");
    }
    if payee.info_abnormal {
        return Decision::fail("PAYEE_USERINFO_STATUS_ERROR");
    }
    if request.payee.name.as_deref().is_some_and(|name| name != payee.real_name) {
        return Decision::fail("PAYEE_USER_INFO_ERROR");
    }
    let today = beijing_date(now);
    let over = |total: Money, max: Money| total.checked_add(amount).is_ok_and(|sum| sum > max);
    if !payee.real_name_verified && over(payee.wallet.received.as_of(today).0, amounts.unverified_payee_day_max) {
        return Decision::fail("EXCEED_LIMIT_UNRN_DM_AMOUNT");
    }
    let (paid_day, paid_month) = merchant.paid.as_of(today);
    if over(paid_day, amounts.merchant_day_max) {
        return Decision::fail("EXCEED_LIMIT_DM_AMOUNT");
    }
    if over(paid_month, amounts.merchant_month_max) {
        return Decision::fail("EXCEED_LIMIT_MM_AMOUNT");
    }
    if merchant.balance < amount {
        return Decision::fail("PAYER_BALANCE_NOT_ENOUGH");
    }
    Decision::Pay
}

/// The `biz_content` of a transfer, as sent (every field optional, checked after).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TransferBiz {
    out_biz_no: Option<String>,
    trans_amount: Option<serde_json::Value>,
    product_code: Option<String>,
    biz_scene: Option<String>,
    order_title: Option<String>,
    payee_info: Option<PayeeBiz>,
    remark: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PayeeBiz {
    identity: Option<String>,
    identity_type: Option<String>,
    name: Option<String>,
}

/// A required text field: present, not blank, at most `max` characters.
fn required(value: Option<String>, field: &str, max: usize) -> Result<String, Failure> {
    let value =
        value.filter(|value| !value.trim().is_empty()).ok_or_else(|| invalid_parameter(&format!("{field}不能为空")))?;
    if value.chars().count() > max {
        return Err(invalid_parameter(&format!("{field}长度不能超过{max}")));
    }
    Ok(value)
}

fn optional(value: Option<String>, field: &str, max: usize) -> Result<Option<String>, Failure> {
    match value.filter(|value| !value.is_empty()) {
        Some(value) => required(Some(value), field, max).map(Some),
        None => Ok(None),
    }
}

/// `trans_amount`: yuan with at most two places (a string, or a JSON number
/// as lenient clients send it), within the product's range.
fn trans_amount(value: Option<serde_json::Value>) -> Result<Money, Failure> {
    let text = match value {
        Some(serde_json::Value::String(text)) => text,
        Some(serde_json::Value::Number(number)) => number.to_string(),
        None => return Err(invalid_parameter("trans_amount不能为空")),
        Some(_) => return Err(invalid_parameter("trans_amount格式错误")),
    };
    let refused = || invalid_parameter("trans_amount必须是0.10到100000000.00之间的金额，最多两位小数");
    let amount = text.parse::<Money>().map_err(|_| refused())?;
    let fen = fen_from_money(amount);
    if !(AMOUNT_MIN_FEN..=AMOUNT_MAX_FEN).contains(&fen) {
        return Err(refused());
    }
    Ok(amount)
}

/// The out_biz_no rule: 1–64 of `[0-9A-Za-z_]`.
fn check_out_biz_no(out_biz_no: &str) -> Result<(), Failure> {
    let ok = (1..=OUT_BIZ_NO_CHARS_MAX).contains(&out_biz_no.len())
        && out_biz_no.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok { Ok(()) } else { Err(invalid_parameter("out_biz_no只能由1到64位字母、数字和下划线组成")) }
}

/// Reads and checks a transfer's `biz_content`.
pub fn transfer_request(biz_content: &str) -> Result<TransferRequest, Failure> {
    let biz: TransferBiz =
        serde_json::from_str(biz_content).map_err(|_| invalid_parameter("biz_content不是JSON对象"))?;
    let out_biz_no = required(biz.out_biz_no, "out_biz_no", OUT_BIZ_NO_CHARS_MAX)?;
    check_out_biz_no(&out_biz_no)?;
    let trans_amount = trans_amount(biz.trans_amount)?;
    let product_code = required(biz.product_code, "product_code", 64)?;
    if UNSIGNED_PRODUCTS.contains(&product_code.as_str()) {
        return Err(business_failure("PRODUCT_NOT_SIGN"));
    }
    if product_code != PRODUCT_CODE {
        return Err(invalid_parameter("product_code不支持"));
    }
    if required(biz.biz_scene, "biz_scene", 64)? != BIZ_SCENE {
        return Err(invalid_parameter("biz_scene不支持"));
    }
    let order_title = required(biz.order_title, "order_title", ORDER_TITLE_CHARS_MAX)?;
    let payee = biz.payee_info.ok_or_else(|| invalid_parameter("payee_info不能为空"))?;
    let identity = required(payee.identity, "payee_info.identity", IDENTITY_CHARS_MAX)?;
    let identity_type = required(payee.identity_type, "payee_info.identity_type", 64)?;
    let identity_type =
        IdentityType::parse(&identity_type).ok_or_else(|| invalid_parameter("payee_info.identity_type不支持"))?;
    let name = optional(payee.name, "payee_info.name", NAME_CHARS_MAX)?;
    if identity_type == IdentityType::LogonId && name.is_none() {
        return Err(invalid_parameter("identity_type为ALIPAY_LOGON_ID时，payee_info.name不能为空"));
    }
    Ok(TransferRequest {
        out_biz_no,
        trans_amount,
        order_title,
        payee: Payee { identity, identity_type, name },
        remark: optional(biz.remark, "remark", REMARK_CHARS_MAX)?,
    })
}

/// How a query names its order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderRef {
    OutBizNo(String),
    OrderId(String),
}

/// Reads a query's `biz_content`: `out_biz_no` (with `product_code` and
/// `biz_scene`, as Alipay asks), or `order_id`, or `pay_fund_order_id`.
pub fn query_request(biz_content: &str) -> Result<OrderRef, Failure> {
    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    struct QueryBiz {
        out_biz_no: Option<String>,
        order_id: Option<String>,
        pay_fund_order_id: Option<String>,
        product_code: Option<String>,
        biz_scene: Option<String>,
    }
    let biz: QueryBiz = serde_json::from_str(biz_content).map_err(|_| invalid_parameter("biz_content不是JSON对象"))?;
    if let Some(order_id) = biz.order_id.or(biz.pay_fund_order_id).filter(|id| !id.is_empty()) {
        return Ok(OrderRef::OrderId(order_id));
    }
    let out_biz_no = biz
        .out_biz_no
        .filter(|no| !no.is_empty())
        .ok_or_else(|| invalid_parameter("out_biz_no、order_id和pay_fund_order_id不能同时为空"))?;
    for (field, value, wanted) in
        [("product_code", &biz.product_code, PRODUCT_CODE), ("biz_scene", &biz.biz_scene, BIZ_SCENE)]
    {
        if value.as_deref().is_some_and(|value| !value.is_empty() && value != wanted) {
            return Err(invalid_parameter(&format!("{field}不支持")));
        }
    }
    Ok(OrderRef::OutBizNo(out_biz_no))
}

/// An Alipay-style order number: the Beijing date, `110070` and 18 random digits.
fn new_order_number(now: DateTime<Utc>) -> String {
    format!("{}110070{}", beijing_date(now).format("%Y%m%d"), random_digits(18))
}

/// The payee's wallet after receiving `order`'s amount.
fn credit(mut payee: MockAlipayUser, order: &TransferOrder) -> Result<MockAlipayUser, Failure> {
    let out_of_range = |_| Failure::unavailable();
    let amount = order.request.trans_amount;
    let wallet = &mut payee.wallet;
    wallet.balance = wallet.balance.checked_add(amount).map_err(out_of_range)?;
    wallet.received = wallet.received.after(beijing_date(order.updated_at), amount).map_err(out_of_range)?;
    wallet.bills.push(AlipayBill {
        order_id: order.order_id.clone(),
        out_biz_no: order.request.out_biz_no.clone(),
        amount,
        order_title: order.request.order_title.clone(),
        received_at: order.updated_at,
    });
    if wallet.bills.len() > WALLET_BILLS_KEPT {
        let extra = wallet.bills.len() - WALLET_BILLS_KEPT;
        wallet.bills.drain(..extra);
    }
    Ok(payee)
}

/// The merchant's account after paying `order`'s amount.
fn debit(mut merchant: MerchantAccount, order: &TransferOrder) -> Result<MerchantAccount, Failure> {
    let out_of_range = |_| Failure::unavailable();
    let amount = order.request.trans_amount;
    merchant.balance = merchant.balance.checked_sub(amount).map_err(out_of_range)?;
    merchant.paid = merchant.paid.after(beijing_date(order.updated_at), amount).map_err(out_of_range)?;
    Ok(merchant)
}

/// What one decision round read: the order, the payee and the merchant, with versions.
struct Loaded {
    order: Option<Versioned<TransferOrder>>,
    payee: Option<Versioned<MockAlipayUser>>,
    merchant: Versioned<MerchantAccount>,
}

impl MockAlipay {
    /// `alipay.fund.trans.uni.transfer`: creates and decides the order, or
    /// answers the one with this `out_biz_no`. `forcing` is a simulator
    /// rule's outcome, taken over the mock's own decision for a new (or
    /// `DEALING`) order; `None` decides by the payee and the merchant.
    pub async fn transfer(
        &self,
        request: &TransferRequest,
        forcing: Option<&AlipayForcing>,
    ) -> Result<TransferAnswer, Failure> {
        let mut rounds = Rounds::pausing_after(ORDER_ATTEMPTS_MAX, ORDER_ATTEMPTS_UNCONTENDED);
        while rounds.next().await {
            let loaded = self.load_for_transfer(request).await?;
            if let Some(found) = &loaded.order {
                if found.value.request != *request {
                    return Err(business_failure(PAYMENT_INFO_INCONSISTENCY));
                }
                if found.value.status != TransferStatus::Dealing {
                    return found.value.answer();
                }
            }
            if let Some(answered) = self.decide_and_write(request, loaded, forcing).await? {
                return answered;
            }
        }
        tracing::warn!(out_biz_no = %request.out_biz_no, "mock Alipay transfer left undecided after the attempt limit");
        Err(Failure::unavailable())
    }

    /// The order, the payee it names (if any) and the merchant, the last
    /// three in one round trip.
    async fn load_for_transfer(&self, request: &TransferRequest) -> Result<Loaded, Failure> {
        let payee = &request.payee;
        let user_id = self.find_user_id(&payee.identity, payee.identity_type).await.map_err(unavailable)?;
        let user_id = user_id.unwrap_or_default();
        let app_id = self.settings.app_id.as_str();
        let ids = [
            (ORDERS_COLLECTION, request.out_biz_no.as_str()),
            (USERS_COLLECTION, user_id.as_str()),
            (MERCHANTS_COLLECTION, app_id),
        ];
        let mut found = self.store.load_documents(&ids).await.map_err(unavailable)?.into_iter();
        let order = versioned(found.next().flatten(), ORDERS_COLLECTION)?;
        let payee_found = versioned::<MockAlipayUser>(found.next().flatten(), USERS_COLLECTION)?;
        let opening = Versioned { version: 0, value: self.opening_account() };
        let merchant = versioned(found.next().flatten(), MERCHANTS_COLLECTION)?.unwrap_or(opening);
        // An id that leads to a user who no longer has it (a logon id given
        // up), or to another app's user, names nobody.
        let payee_found = payee_found.filter(|found| {
            found.value.app_id == self.settings.app_id && payee.identity_type.names(&found.value, &payee.identity)
        });
        Ok(Loaded { order, payee: payee_found, merchant })
    }

    /// Decides on what was loaded and writes the outcome: `None` when
    /// anything changed meanwhile (the caller loads again and decides again).
    async fn decide_and_write(
        &self,
        request: &TransferRequest,
        loaded: Loaded,
        forcing: Option<&AlipayForcing>,
    ) -> Result<Option<Result<TransferAnswer, Failure>>, Failure> {
        let now = self.clock.now();
        let payee = loaded.payee.as_ref().map(|found| &found.value);
        let decision = decide(request, payee, &loaded.merchant.value, &self.amounts, now, forcing);
        let (order_version, mut order) = match loaded.order {
            Some(found) => (found.version, found.value),
            None => {
                let order_id = new_order_number(now);
                let order = TransferOrder {
                    request: request.clone(),
                    pay_fund_order_id: new_order_number(now),
                    order_id,
                    status: TransferStatus::Dealing,
                    payee_user_id: None,
                    error_code: None,
                    fail_reason: None,
                    created_at: now,
                    updated_at: now,
                };
                (0, order)
            }
        };
        order.payee_user_id = payee.map(|payee| payee.user_id.clone());
        order.updated_at = now;
        let mut changed: Vec<(&str, String, u64, String)> = Vec::new();
        match &decision {
            Decision::Fail { sub_code, kept: false } => return Ok(Some(Err(business_failure(sub_code)))),
            Decision::Fail { sub_code, kept: true } => {
                let failure = business_failure(sub_code);
                order.status = TransferStatus::Fail;
                (order.error_code, order.fail_reason) = (Some(failure.sub_code), Some(failure.sub_msg));
            }
            Decision::Dealing => order.status = TransferStatus::Dealing,
            Decision::Pay => {
                order.status = TransferStatus::Success;
                let Some(payee) = loaded.payee else { return Err(Failure::unavailable()) };
                let credited = credit(payee.value, &order)?;
                let debited = debit(loaded.merchant.value, &order)?;
                changed.push((USERS_COLLECTION, credited.user_id.clone(), payee.version, encoded(&credited)?));
                changed.push((
                    MERCHANTS_COLLECTION,
                    self.settings.app_id.clone(),
                    loaded.merchant.version,
                    encoded(&debited)?,
                ));
            }
        }
        changed.push((ORDERS_COLLECTION, order.request.out_biz_no.clone(), order_version, encoded(&order)?));
        if order_version == 0 {
            let number = encoded(&OrderNumber { out_biz_no: order.request.out_biz_no.clone() })?;
            changed.push((ORDER_NUMBERS_COLLECTION, order.order_id.clone(), 0, number.clone()));
            changed.push((ORDER_NUMBERS_COLLECTION, order.pay_fund_order_id.clone(), 0, number));
        }
        let writes: Vec<DocumentWrite<'_>> = changed
            .iter()
            .map(|(collection, id, expected_version, body)| DocumentWrite {
                collection,
                id,
                expected_version: *expected_version,
                body,
            })
            .collect();
        match self.store.save_documents(&writes).await.map_err(unavailable)? {
            CommitOutcome::Committed => {
                tracing::info!(out_biz_no = %order.request.out_biz_no, status = order.status.as_str(), error_code = ?order.error_code, "mock Alipay transfer decided");
                Ok(Some(order.answer()))
            }
            CommitOutcome::VersionConflict => Ok(None),
        }
    }

    /// `alipay.fund.trans.common.query`: the order by `out_biz_no` or by one of Alipay's numbers.
    pub async fn query_transfer(&self, reference: &OrderRef) -> Result<TransferQueryAnswer, Failure> {
        let not_found = || Failure::new(GatewayCode::BusinessFailed, ORDER_NOT_EXIST, "转账订单不存在");
        let out_biz_no = match reference {
            OrderRef::OutBizNo(out_biz_no) => out_biz_no.clone(),
            OrderRef::OrderId(number) => {
                if number.len() > OUT_BIZ_NO_CHARS_MAX {
                    return Err(not_found());
                }
                let found = self.store.load_document_as::<OrderNumber>(ORDER_NUMBERS_COLLECTION, number).await;
                found.map_err(unavailable)?.ok_or_else(not_found)?.value.out_biz_no
            }
        };
        if check_out_biz_no(&out_biz_no).is_err() {
            return Err(not_found());
        }
        let found = self.store.load_document_as::<TransferOrder>(ORDERS_COLLECTION, &out_biz_no).await;
        Ok(found.map_err(unavailable)?.ok_or_else(not_found)?.value.query_answer())
    }

    /// The merchant's account as it stands (the configured balance before its first transfer).
    pub async fn merchant(&self) -> Result<MerchantAccount, StoreError> {
        Ok(self.load_merchant().await?.value)
    }

    async fn load_merchant(&self) -> Result<Versioned<MerchantAccount>, StoreError> {
        let found = self.store.load_document_as::<MerchantAccount>(MERCHANTS_COLLECTION, &self.settings.app_id).await?;
        Ok(found.unwrap_or(Versioned { version: 0, value: self.opening_account() }))
    }

    fn opening_account(&self) -> MerchantAccount {
        MerchantAccount { balance: self.amounts.merchant_balance, paid: ReceivedTotals::default() }
    }

    /// Sets the merchant's balance by compare-and-set (a transfer paying meanwhile is kept).
    pub async fn set_merchant_balance(&self, balance: Money) -> Result<MerchantUpdate, StoreError> {
        let mut rounds = Rounds::new(ORDER_ATTEMPTS_MAX);
        while rounds.next().await {
            let Versioned { version, value: mut account } = self.load_merchant().await?;
            account.balance = balance;
            let saved = self.store.save_document_as(MERCHANTS_COLLECTION, &self.settings.app_id, version, &account);
            if saved.await? == CommitOutcome::Committed {
                return Ok(MerchantUpdate::Updated(account));
            }
        }
        Ok(MerchantUpdate::Busy)
    }
}

/// A loaded document decoded as `T`, with its version.
fn versioned<T: serde::de::DeserializeOwned>(
    found: Option<Versioned<String>>,
    collection: &str,
) -> Result<Option<Versioned<T>>, Failure> {
    let Some(found) = found else { return Ok(None) };
    let value = crate::store::typed::decode_document(collection, &found.value).map_err(unavailable)?;
    Ok(Some(Versioned { version: found.version, value }))
}

fn encoded<T: Serialize>(value: &T) -> Result<String, Failure> {
    encode_document(value).map_err(unavailable)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::TimeZone;

    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::store::MemoryStore;

    fn money(text: &str) -> Money {
        text.parse().unwrap()
    }

    fn amounts() -> MockAlipayAmounts {
        MockAlipaySettings::sample().amounts().unwrap()
    }

    fn biz(changes: &[(&str, serde_json::Value)]) -> String {
        let mut biz = serde_json::json!({
            "out_biz_no": "wd_0001", "trans_amount": "100.00", "product_code": PRODUCT_CODE, "biz_scene": BIZ_SCENE,
            "order_title": "OK钱包提现",
            "payee_info": {"identity": "2088000000000001", "identity_type": "ALIPAY_USER_ID", "name": "张三"}
        });
        for (path, value) in changes {
            match path.split_once('.') {
                Some((outer, inner)) => biz[outer][inner] = value.clone(),
                None => biz[*path] = value.clone(),
            }
        }
        biz.to_string()
    }

    fn refused(changes: &[(&str, serde_json::Value)]) -> String {
        transfer_request(&biz(changes)).unwrap_err().sub_code
    }

    #[test]
    fn a_transfer_request_is_read_with_alipays_field_rules() {
        let request = transfer_request(&biz(&[])).unwrap();
        assert_eq!(request.trans_amount, money("100.00"));
        assert_eq!(request.payee.identity_type, IdentityType::UserId);
        let lenient = transfer_request(&biz(&[("trans_amount", serde_json::json!(0.1))])).unwrap();
        assert_eq!(lenient.trans_amount, money("0.10"), "a JSON number is taken as lenient clients send it");
        let null = serde_json::Value::Null;
        let cases: &[(&[(&str, serde_json::Value)], &str)] = &[
            (&[("out_biz_no", null.clone())], INVALID_PARAMETER),
            (&[("out_biz_no", serde_json::json!("wd-1"))], INVALID_PARAMETER),
            (&[("out_biz_no", serde_json::json!("a".repeat(65)))], INVALID_PARAMETER),
            (&[("trans_amount", serde_json::json!("0.09"))], INVALID_PARAMETER),
            (&[("trans_amount", serde_json::json!("1.001"))], INVALID_PARAMETER),
            (&[("trans_amount", serde_json::json!("100000000.01"))], INVALID_PARAMETER),
            (&[("trans_amount", serde_json::json!(true))], INVALID_PARAMETER),
            (&[("product_code", serde_json::json!("TRANS_BANKCARD_NO_PWD"))], "PRODUCT_NOT_SIGN"),
            (&[("product_code", serde_json::json!("OTHER"))], INVALID_PARAMETER),
            (&[("biz_scene", serde_json::json!("PERSONAL_PAY"))], INVALID_PARAMETER),
            (&[("order_title", serde_json::json!(" "))], INVALID_PARAMETER),
            (&[("payee_info", null.clone())], INVALID_PARAMETER),
            (&[("payee_info.identity_type", serde_json::json!("BANKCARD_ACCOUNT"))], INVALID_PARAMETER),
            (
                &[("payee_info.identity_type", serde_json::json!("ALIPAY_LOGON_ID")), ("payee_info.name", null)],
                INVALID_PARAMETER,
            ),
        ];
        for (changes, sub_code) in cases {
            assert_eq!(refused(changes), *sub_code, "{changes:?}");
        }
        assert_eq!(transfer_request("not json").unwrap_err().sub_code, INVALID_PARAMETER);
        assert_eq!(transfer_request("{}").unwrap_err().code, GatewayCode::BusinessFailed);
    }

    #[test]
    fn a_query_names_its_order_by_alipays_number_or_the_merchants() {
        assert_eq!(query_request(r#"{"order_id":"2026"}"#).unwrap(), OrderRef::OrderId("2026".into()));
        assert_eq!(query_request(r#"{"pay_fund_order_id":"2027"}"#).unwrap(), OrderRef::OrderId("2027".into()));
        let by_number = r#"{"out_biz_no":"wd1","product_code":"TRANS_ACCOUNT_NO_PWD","biz_scene":"DIRECT_TRANSFER"}"#;
        assert_eq!(query_request(by_number).unwrap(), OrderRef::OutBizNo("wd1".into()));
        assert_eq!(query_request("{}").unwrap_err().sub_code, INVALID_PARAMETER);
        assert_eq!(query_request(r#"{"out_biz_no":"wd1","biz_scene":"X"}"#).unwrap_err().sub_code, INVALID_PARAMETER);
    }

    fn payee() -> MockAlipayUser {
        let new = NewAlipayUser::new("小明", "张三", Some("13800000009"), AlipayUserFlags::default()).unwrap();
        new.build("2021004100000001", Utc::now())
    }

    fn merchant(balance: &str) -> MerchantAccount {
        MerchantAccount { balance: money(balance), paid: ReceivedTotals::default() }
    }

    fn decided(amount: &str, payee: Option<&MockAlipayUser>, merchant: &MerchantAccount) -> Decision {
        let mut request = transfer_request(&biz(&[])).unwrap();
        request.trans_amount = money(amount);
        decide(&request, payee, merchant, &amounts(), Utc::now(), None)
    }

    fn failed(sub_code: &str, kept: bool) -> Decision {
        Decision::Fail { sub_code: sub_code.into(), kept }
    }

    #[test]
    fn the_payee_and_the_merchant_decide_a_transfer_in_alipays_order() {
        let rich = merchant("1000000.00");
        let user = payee();
        assert_eq!(decided("100.00", Some(&user), &rich), Decision::Pay);
        assert_eq!(decided("100.00", None, &rich), failed("PAYEE_NOT_EXIST", true));
        assert_eq!(decided("50000.01", Some(&user), &rich), failed("EXCEED_LIMIT_SM_AMOUNT", true));
        assert_eq!(decided("50000.00", Some(&user), &rich), failed("MEMO_REQUIRED_IN_TRANSFER_ERROR", false));
        let flagged = |change: fn(&mut MockAlipayUser)| {
            let mut user = payee();
            change(&mut user);
            user
        };
        let frozen = flagged(|user| user.frozen = true);
        assert_eq!(decided("1.00", Some(&frozen), &rich), failed("PAYEE_ACCOUNT_STATUS_ERROR", true));
        let abnormal = flagged(|user| user.info_abnormal = true);
        assert_eq!(decided("1.00", Some(&abnormal), &rich), failed("PAYEE_USERINFO_STATUS_ERROR", true));
        let renamed = flagged(|user| user.real_name = "李四".into());
        assert_eq!(decided("1.00", Some(&renamed), &rich), failed("PAYEE_USER_INFO_ERROR", true));
        let unverified = flagged(|user| user.real_name_verified = false);
        assert_eq!(decided("1000.00", Some(&unverified), &rich), Decision::Pay);
        assert_eq!(decided("1000.01", Some(&unverified), &rich), failed("EXCEED_LIMIT_UNRN_DM_AMOUNT", true));
        assert_eq!(decided("100.01", Some(&user), &merchant("100.00")), failed("PAYER_BALANCE_NOT_ENOUGH", false));
        assert_eq!(decided("100.00", Some(&user), &merchant("100.00")), Decision::Pay);
    }

    #[test]
    fn the_merchants_day_and_month_count_in_beijing_time() {
        // 23:30 on 31 March in Beijing (15:30 UTC).
        let late = Utc.with_ymd_and_hms(2026, 3, 31, 15, 30, 0).unwrap();
        let today = beijing_date(late);
        let paid = ReceivedTotals::default().after(today, money("1999999.00")).unwrap();
        let account = MerchantAccount { balance: money("9000000.00"), paid };
        let request =
            |amount: &str| TransferRequest { trans_amount: money(amount), ..transfer_request(&biz(&[])).unwrap() };
        let user = payee();
        let decide_at = |amount: &str, at| decide(&request(amount), Some(&user), &account, &amounts(), at, None);
        assert_eq!(decide_at("1.00", late), Decision::Pay);
        assert_eq!(decide_at("1.01", late), failed("EXCEED_LIMIT_DM_AMOUNT", false));
        let next_beijing_day = late + chrono::Duration::minutes(30);
        assert_eq!(decide_at("1.01", next_beijing_day), Decision::Pay, "a new Beijing day and month");
        let mut month_amounts = amounts();
        month_amounts.merchant_month_max = money("2000000.00");
        let yesterday = today.pred_opt().unwrap();
        let earlier = MerchantAccount {
            paid: ReceivedTotals::default().after(yesterday, money("1999999.00")).unwrap(),
            ..account.clone()
        };
        assert_eq!(decide(&request("1.01"), Some(&user), &earlier, &amounts(), late, None), Decision::Pay);
        let month = decide(&request("1.01"), Some(&user), &earlier, &month_amounts, late, None);
        assert_eq!(month, failed("EXCEED_LIMIT_MM_AMOUNT", false));
    }

    #[test]
    fn a_forced_outcome_replaces_the_mocks_own_decision() {
        let request = transfer_request(&biz(&[])).unwrap();
        let broke = merchant("0.00");
        let forced = |forcing| decide(&request, None, &broke, &amounts(), Utc::now(), Some(&forcing));
        assert_eq!(forced(AlipayForcing::Dealing), Decision::Dealing);
        assert_eq!(forced(AlipayForcing::Fail("PAYEE_NOT_EXIST".into())), failed("PAYEE_NOT_EXIST", true));
        assert_eq!(forced(AlipayForcing::Fail(SYSTEM_ERROR.into())), failed(SYSTEM_ERROR, false));
        assert_eq!(business_failure("PERMIT_CHECK_PERM_LIMITED").sub_msg, "转账失败");
    }

    struct Fixture {
        clock: Arc<ManualClock>,
        mock: Arc<MockAlipay>,
    }

    fn fixture() -> Fixture {
        let store: SharedStore = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 0).unwrap()));
        let shared: SharedClock = clock.clone();
        let mock = Arc::new(MockAlipay::new(store, shared, MockAlipaySettings::sample()).unwrap());
        Fixture { clock, mock }
    }

    impl Fixture {
        async fn user(&self) -> MockAlipayUser {
            let new = NewAlipayUser::new("小明", "张三", None, AlipayUserFlags::default()).unwrap();
            self.mock.create_user(&new).await.unwrap()
        }

        async fn balance(&self, user_id: &str) -> Money {
            self.mock.load_user(user_id).await.unwrap().unwrap().value.wallet.balance
        }
    }

    fn to(user: &MockAlipayUser, out_biz_no: &str, amount: &str) -> TransferRequest {
        let mut request = transfer_request(&biz(&[])).unwrap();
        (request.out_biz_no, request.trans_amount) = (out_biz_no.into(), money(amount));
        request.payee.identity = user.user_id.clone();
        request
    }

    #[tokio::test]
    async fn a_dealing_order_moves_nothing_until_a_later_call_decides_it() {
        let f = fixture();
        let user = f.user().await;
        let request = to(&user, "D1", "10.00");
        let dealing = f.mock.transfer(&request, Some(&AlipayForcing::Dealing)).await.unwrap();
        assert_eq!(dealing.status, "DEALING");
        assert_eq!(f.balance(&user.user_id).await, Money::ZERO);
        assert_eq!(f.mock.query_transfer(&OrderRef::OutBizNo("D1".into())).await.unwrap().status, "DEALING");
        f.clock.advance(chrono::Duration::minutes(3));
        let paid = f.mock.transfer(&request, None).await.unwrap();
        assert_eq!((paid.status.as_str(), &paid.order_id), ("SUCCESS", &dealing.order_id));
        assert_eq!(paid.trans_date, beijing_time(f.clock.now()));
        assert_eq!(f.balance(&user.user_id).await, money("10.00"));
        assert_eq!(f.mock.merchant().await.unwrap().balance, money("999990.00"));
    }

    #[tokio::test]
    async fn a_forced_failure_is_kept_unless_its_result_is_unknown() {
        let f = fixture();
        let user = f.user().await;
        let unknown = f.mock.transfer(&to(&user, "S1", "1.00"), Some(&AlipayForcing::Fail(SYSTEM_ERROR.into()))).await;
        assert_eq!(unknown.unwrap_err().sub_code, SYSTEM_ERROR);
        assert!(f.mock.query_transfer(&OrderRef::OutBizNo("S1".into())).await.is_err(), "nothing kept");
        assert_eq!(f.mock.transfer(&to(&user, "S1", "1.00"), None).await.unwrap().status, "SUCCESS");
        let forced = AlipayForcing::Fail("PAYEE_ACCOUNT_STATUS_ERROR".into());
        assert_eq!(
            f.mock.transfer(&to(&user, "F1", "1.00"), Some(&forced)).await.unwrap_err().sub_code,
            "PAYEE_ACCOUNT_STATUS_ERROR"
        );
        let again = f.mock.transfer(&to(&user, "F1", "1.00"), None).await.unwrap_err();
        assert_eq!(again.sub_code, "PAYEE_ACCOUNT_STATUS_ERROR", "a kept failure answers the same");
        assert_eq!(f.balance(&user.user_id).await, money("1.00"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_transfers_to_one_payee_never_overdraw_the_merchant() {
        let f = fixture();
        let user = f.user().await;
        f.mock.set_merchant_balance(money("25000.00")).await.unwrap();
        let tasks: Vec<_> = (0..6)
            .map(|i| {
                let (mock, request) = (f.mock.clone(), to(&user, &format!("R{i}"), "10000.00"));
                tokio::spawn(async move { mock.transfer(&request, None).await })
            })
            .collect();
        let mut paid = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(answer) => paid += usize::from(answer.status == "SUCCESS"),
                Err(failure) => assert_eq!(failure.sub_code, "PAYER_BALANCE_NOT_ENOUGH"),
            }
        }
        assert_eq!(paid, 2);
        assert_eq!(f.balance(&user.user_id).await, money("20000.00"));
        assert_eq!(f.mock.merchant().await.unwrap().balance, money("5000.00"));
    }
}
