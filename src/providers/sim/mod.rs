//! The simulator's control over the mock providers: rules that force how a
//! call is answered (an outcome, an error, a fault, a delay), and the magic
//! amounts that do the same with no rule. `rules` is the pure part; `book`
//! keeps a deployment's rules in the store and answers "how is this call to
//! be answered?"; `ruled` is the answer a mock gives once they had their say.

pub mod book;
pub mod ruled;
pub mod rules;

pub use book::{RuleBook, RuleBookError};
pub use ruled::{Answer, Ruled};
pub use rules::{Fault, Forced, NewRule, Operation, ProviderCall, Respond, Rule};
