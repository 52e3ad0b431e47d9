//! `[transfers]`: the limits and fees of users' transfers, read as strings
//! (so environment overrides are never floats) and checked into a
//! `TransferPolicy` at startup, one line per problem.

use rust_decimal::Decimal;
use serde::Deserialize;

use super::WithdrawalSettings;
use crate::domain::asset::{Asset, Quantity};
use crate::domain::transfer_policy::{AssetLimits, LevelTransferRules, TransferFee, TransferPolicy};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferSettings {
    /// The worker delivers a transfer its sending request did not this long after it was sent.
    pub redeliver_after_secs: u64,
    pub fees: TransferFeeTable,
    pub levels: TransferLevelTable,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferFeeTable {
    pub cny: TransferFeeSettings,
    pub usdt: TransferFeeSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferFeeSettings {
    pub fee_rate: String,
    pub fee_min: String,
    /// Empty: no cap.
    #[serde(default)]
    pub fee_max: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferLevelTable {
    pub l0: TransferLevelSettings,
    pub l1: TransferLevelSettings,
    pub l2: TransferLevelSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferLevelSettings {
    pub allowed: bool,
    pub cny: AssetLimitSettings,
    pub usdt: AssetLimitSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetLimitSettings {
    pub per_transfer_max: String,
    pub daily_amount_max: String,
}

impl TransferSettings {
    /// The transfer rules these settings describe, counted in the
    /// withdrawals' time zone and keeping keys as long as withdrawals do.
    pub fn policy(&self, withdrawals: &WithdrawalSettings) -> Result<TransferPolicy, String> {
        let shared = withdrawals.policy()?;
        let levels = [
            level_rules("l0", &self.levels.l0)?,
            level_rules("l1", &self.levels.l1)?,
            level_rules("l2", &self.levels.l2)?,
        ];
        let redeliver_after = i64::try_from(self.redeliver_after_secs)
            .ok()
            .filter(|secs| *secs > 0)
            .and_then(chrono::Duration::try_seconds)
            .ok_or("transfers.redeliver_after_secs must be a positive number of seconds")?;
        Ok(TransferPolicy {
            time_zone: shared.time_zone,
            levels,
            cny_fee: fee_rules(Asset::Cny, &self.fees.cny)?,
            usdt_fee: fee_rules(Asset::Usdt, &self.fees.usdt)?,
            idempotency_ttl: shared.idempotency_ttl,
            redeliver_after,
        })
    }
}

fn amount(asset: Asset, key: &str, text: &str) -> Result<Quantity, String> {
    Quantity::parse(asset, text).ok().filter(|amount| !amount.is_negative()).ok_or_else(|| {
        format!("{key} must be an amount of {asset} with at most {} places, got {text:?}", asset.scale())
    })
}

fn asset_limits(asset: Asset, name: &str, limits: &AssetLimitSettings) -> Result<AssetLimits, String> {
    let key = format!("transfers.levels.{name}.{}", asset.code().to_ascii_lowercase());
    let per_transfer_max = amount(asset, &format!("{key}.per_transfer_max"), &limits.per_transfer_max)?;
    let daily_amount_max = amount(asset, &format!("{key}.daily_amount_max"), &limits.daily_amount_max)?;
    if per_transfer_max.as_decimal() > daily_amount_max.as_decimal() {
        return Err(format!("{key}: per_transfer_max ≤ daily_amount_max must hold"));
    }
    Ok(AssetLimits { per_transfer_max, daily_amount_max })
}

fn level_rules(name: &str, level: &TransferLevelSettings) -> Result<LevelTransferRules, String> {
    Ok(LevelTransferRules {
        allowed: level.allowed,
        cny: asset_limits(Asset::Cny, name, &level.cny)?,
        usdt: asset_limits(Asset::Usdt, name, &level.usdt)?,
    })
}

fn fee_rules(asset: Asset, fee: &TransferFeeSettings) -> Result<TransferFee, String> {
    let key = format!("transfers.fees.{}", asset.code().to_ascii_lowercase());
    let rate: Decimal = fee
        .fee_rate
        .parse()
        .ok()
        .filter(|rate: &Decimal| (Decimal::ZERO..Decimal::ONE).contains(rate))
        .ok_or_else(|| format!("{key}.fee_rate must be a decimal in [0, 1), got {:?}", fee.fee_rate))?;
    let min = amount(asset, &format!("{key}.fee_min"), &fee.fee_min)?.as_decimal();
    let max = match fee.fee_max.trim() {
        "" => None,
        text => Some(amount(asset, &format!("{key}.fee_max"), text)?.as_decimal()),
    };
    if max.is_some_and(|max| max < min) {
        return Err(format!("{key}: fee_min ≤ fee_max must hold"));
    }
    Ok(TransferFee { rate, min, max })
}
