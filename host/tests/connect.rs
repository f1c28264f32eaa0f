// SPDX-License-Identifier: GPL-2.0

//! `connect()` by phase and the errors a rejection means, as TCP reports them.

use infinisock_proto::conn_state::{connect_step, rejection_errno, ConnectStep, Phase};
use infinisock_proto::errno::*;

#[test]
fn connect_starts_once_and_then_waits_or_says_already() {
    assert_eq!(connect_step(Phase::Open, false, true), ConnectStep::Start);
    assert_eq!(connect_step(Phase::Open, true, true), ConnectStep::Start);
    assert_eq!(connect_step(Phase::Connecting, false, true), ConnectStep::Wait);
    assert_eq!(connect_step(Phase::Connecting, true, true), ConnectStep::Fail(EALREADY));
}

#[test]
fn connect_refuses_what_tcp_refuses() {
    assert_eq!(connect_step(Phase::Open, false, false), ConnectStep::Fail(ENETUNREACH));
    assert_eq!(connect_step(Phase::Connected, false, true), ConnectStep::Fail(EISCONN));
    assert_eq!(connect_step(Phase::Listening, false, true), ConnectStep::Fail(EINVAL));
    assert_eq!(connect_step(Phase::Accepting, true, true), ConnectStep::Fail(EINVAL));
    assert_eq!(connect_step(Phase::Closed, false, true), ConnectStep::Ended);
}

#[test]
fn a_rejection_is_a_refusal_a_timeout_or_a_reset() {
    assert_eq!(rejection_errno(Phase::Connecting, 28), ECONNREFUSED);
    assert_eq!(rejection_errno(Phase::Connecting, 1), ETIMEDOUT);
    assert_eq!(rejection_errno(Phase::Connected, 1), ECONNRESET);
    assert_eq!(rejection_errno(Phase::Connected, 28), ECONNRESET);
}
