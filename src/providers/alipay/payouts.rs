//! Payouts to Alipay accounts as the settlement worker asks for them: the
//! `AlipayPayouts` trait (a transfer by `out_biz_no`, the withdrawal's bill
//! number, and its query), and what each answer means for the withdrawal —
//! paid, failed for good (the hold comes back), or not known yet (query,
//! then send the same `out_biz_no` again; it never pays twice).

use std::sync::Arc;

use super::client::{AlipayCallError, AlipayClient, AlipayOrder, AlipayOrderStatus, AlipayTransferRequest};
use super::protocol::{Failure, GatewayCode};

#[async_trait::async_trait]
pub trait AlipayPayouts: Send + Sync + std::fmt::Debug + 'static {
    /// `alipay.fund.trans.uni.transfer`; idempotent by `out_biz_no`.
    async fn transfer(&self, request: &AlipayTransferRequest) -> Result<AlipayOrder, AlipayCallError>;

    /// `alipay.fund.trans.common.query`; `None` when no order has this `out_biz_no`.
    async fn query(&self, out_biz_no: &str) -> Result<Option<AlipayOrder>, AlipayCallError>;
}

pub type SharedAlipayPayouts = Arc<dyn AlipayPayouts>;

#[async_trait::async_trait]
impl AlipayPayouts for AlipayClient {
    async fn transfer(&self, request: &AlipayTransferRequest) -> Result<AlipayOrder, AlipayCallError> {
        AlipayClient::transfer(self, request).await
    }

    async fn query(&self, out_biz_no: &str) -> Result<Option<AlipayOrder>, AlipayCallError> {
        AlipayClient::query(self, out_biz_no).await
    }
}

/// What an answer means for the withdrawal being paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayoutOutcome {
    /// Paid: Alipay's order number.
    Paid { order_id: String },
    /// Nothing was paid and nothing will be under this `out_biz_no`: the
    /// withdrawal fails with this `sub_code` and its hold comes back.
    Failed { sub_code: String },
    /// Not known, or not paid yet for a reason that may pass (the
    /// merchant's balance or limits): query, then retry the same
    /// `out_biz_no` later; parked for an operator once the attempts are spent.
    Pending { why: String },
}

/// `sub_code`s after which the same `out_biz_no` may still pay: Alipay's
/// unknown result, and the payer's (the merchant's) own conditions, which
/// keep no order.
const RETRIED_SUB_CODES: &[&str] = &[
    "SYSTEM_ERROR",
    "PAYER_BALANCE_NOT_ENOUGH",
    "BALANCE_IS_NOT_ENOUGH",
    "EXCEED_LIMIT_DM_AMOUNT",
    "EXCEED_LIMIT_MM_AMOUNT",
    "EXCEED_LIMIT_DM_MAX_AMOUNT",
    "RESOURCE_LIMIT_EXCEED",
    "PAYER_STATUS_ERROR",
    "PAYER_CERTIFY_CHECK_FAIL",
    "PAYER_PERMLIMIT_CHECK_FAILURE",
    "PERMIT_PAYER_LOWEST_FORBIDDEN",
    "PERMIT_PAYER_FORBIDDEN",
    "PRODUCT_NOT_SIGN",
    "PAYMENT_TIME_EXPIRE",
    // The same out_biz_no met other parameters: an earlier attempt's order
    // exists and may have paid; only an operator can tell.
    "PAYMENT_INFO_INCONSISTENCY",
];

/// What a transfer's answer means.
pub fn transfer_outcome(answer: Result<AlipayOrder, AlipayCallError>) -> PayoutOutcome {
    match answer {
        Ok(order) => order_outcome(&order),
        Err(AlipayCallError::Unknown(why)) => PayoutOutcome::Pending { why },
        Err(AlipayCallError::Failed(failure)) => failure_outcome(&failure),
    }
}

/// What an order as a transfer or a query reports means.
pub fn order_outcome(order: &AlipayOrder) -> PayoutOutcome {
    match order.status {
        AlipayOrderStatus::Success => PayoutOutcome::Paid { order_id: order.order_id.clone() },
        AlipayOrderStatus::Fail => {
            PayoutOutcome::Failed { sub_code: order.sub_code.clone().unwrap_or_else(|| "FAIL".to_owned()) }
        }
        AlipayOrderStatus::Dealing | AlipayOrderStatus::Refund => {
            PayoutOutcome::Pending { why: format!("order {} {:?}", order.order_id, order.status) }
        }
    }
}

/// What a failed call means: a business failure (40004) fails the
/// withdrawal unless its `sub_code` may pass; any other code (a parameter
/// or permission the gateway refused: the configuration, not the payee)
/// is retried and parked for an operator rather than given back blindly.
pub fn failure_outcome(failure: &Failure) -> PayoutOutcome {
    let retried = RETRIED_SUB_CODES.contains(&failure.sub_code.as_str());
    if failure.code == GatewayCode::BusinessFailed && !retried {
        return PayoutOutcome::Failed { sub_code: failure.sub_code.clone() };
    }
    PayoutOutcome::Pending { why: failure.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(code: GatewayCode, sub_code: &str) -> PayoutOutcome {
        transfer_outcome(Err(AlipayCallError::Failed(Failure::new(code, sub_code, "…"))))
    }

    fn order(status: AlipayOrderStatus, sub_code: Option<&str>) -> AlipayOrder {
        AlipayOrder { out_biz_no: "b".into(), order_id: "o1".into(), status, sub_code: sub_code.map(str::to_owned) }
    }

    #[test]
    fn payee_side_sub_codes_fail_and_payer_side_ones_are_retried() {
        for sub_code in [
            "PAYEE_NOT_EXIST",
            "PAYEE_ACCOUNT_STATUS_ERROR",
            "PAYEE_USER_INFO_ERROR",
            "PAYEE_USERINFO_STATUS_ERROR",
            "EXCEED_LIMIT_SM_AMOUNT",
            "EXCEED_LIMIT_UNRN_DM_AMOUNT",
            "INVALID_PARAMETER",
        ] {
            assert_eq!(
                failed(GatewayCode::BusinessFailed, sub_code),
                PayoutOutcome::Failed { sub_code: sub_code.into() }
            );
        }
        for sub_code in
            ["SYSTEM_ERROR", "PAYER_BALANCE_NOT_ENOUGH", "EXCEED_LIMIT_DM_AMOUNT", "PAYMENT_INFO_INCONSISTENCY"]
        {
            assert!(
                matches!(failed(GatewayCode::BusinessFailed, sub_code), PayoutOutcome::Pending { .. }),
                "{sub_code}"
            );
        }
        assert!(matches!(
            failed(GatewayCode::InvalidArguments, "isv.invalid-signature"),
            PayoutOutcome::Pending { .. }
        ));
        assert!(matches!(
            transfer_outcome(Err(AlipayCallError::Unknown("reset".into()))),
            PayoutOutcome::Pending { .. }
        ));
    }

    #[test]
    fn orders_read_as_paid_failed_or_pending() {
        assert_eq!(
            order_outcome(&order(AlipayOrderStatus::Success, None)),
            PayoutOutcome::Paid { order_id: "o1".into() }
        );
        assert_eq!(
            order_outcome(&order(AlipayOrderStatus::Fail, Some("PAYEE_NOT_EXIST"))),
            PayoutOutcome::Failed { sub_code: "PAYEE_NOT_EXIST".into() }
        );
        assert!(matches!(order_outcome(&order(AlipayOrderStatus::Dealing, None)), PayoutOutcome::Pending { .. }));
    }
}
