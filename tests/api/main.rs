//! One integration binary: the real server on a random port, spoken to over
//! HTTP, each case run against the memory store and against Redis (a private
//! `redis-server` the binary starts itself, see `redis_servers`).

mod helpers;

mod alipay_bindings;
mod alipay_payouts;
mod auth;
mod auth_hardening;
mod bindings;
mod concurrency;
mod cors;
mod errors;
mod kyc;
mod layering;
mod login_lock;
mod mock_alipay;
mod mock_journal;
mod mock_users;
mod mock_wechat;
mod multi_process;
mod notifications;
mod observability;
mod openapi;
mod openapi_examples;
mod ops_search;
mod pagination;
mod pin;
mod races;
mod redis_cluster;
mod redis_commit_cost;
mod redis_failover;
mod redis_layout;
mod redis_outage;
mod redis_servers;
mod redis_silence;
mod review_queue;
mod scenarios;
mod sessions;
mod settlement;
mod sim_clock;
mod sim_reset;
mod sim_rules;
mod simulator_safety;
mod store_conformance;
mod system;
mod transfer_processes;
mod transfers;
mod user_transfers;
mod wallet;
mod wechat_bill_states;
mod wechat_pay_names;
mod wechat_pay_notify;
mod wechat_pay_signatures;
mod withdrawals;
mod worker_recovery;
