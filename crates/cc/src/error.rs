//! The crate's one error type: why an input was refused (nothing changed).

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CcError {
    #[error("no such agent: {0}")]
    UnknownAgent(i64),
    #[error("no such queue: {0}")]
    UnknownQueue(i64),
    #[error("queue {0} is disabled")]
    QueueDisabled(i64),
    #[error("queue {0} is not an inbound call queue")]
    NotInbound(i64),
    #[error("call leg {0} already waits in a queue")]
    LegInQueue(String),
    #[error("agent {0} is already online")]
    AlreadyOnline(i64),
    #[error("agent {0} is already paused with this payload")]
    AlreadyPaused(i64),
    #[error("agent {0} is already offline")]
    AlreadyOffline(i64),
    #[error("channel {channel} of agent {agent_id} is not in wrap_time or missed")]
    NotWrapping { agent_id: i64, channel: String },
    #[error("no such attempt: {0}")]
    UnknownAttempt(i64),
    /// No open report for this attempt (unknown, already reported, or not yet bridged).
    #[error("attempt {0} has nothing to report")]
    ReportingNotFound(i64),
    #[error("attempt {0} is not in processing")]
    NotProcessing(i64),
    #[error("attempt {attempt_id} cannot {action} while {state}")]
    InvalidState {
        attempt_id: i64,
        action: &'static str,
        state: &'static str,
    },
    #[error("invalid parameter: {0}")]
    InvalidParam(&'static str),
}

impl CcError {
    /// The Webitel error id (the SDK and UIs match some of them).
    pub fn id(&self) -> &'static str {
        match self {
            CcError::UnknownAgent(_) => "app.agent.get.not_found",
            CcError::UnknownQueue(_) => "app.queue.get.not_found",
            CcError::QueueDisabled(_) => "app.queue.join.disabled",
            CcError::NotInbound(_) => "app.queue.join.not_inbound",
            CcError::LegInQueue(_) => "app.queue.join.already_in_queue",
            CcError::AlreadyOnline(_) => "app.agent.set_login.agent_logged",
            CcError::AlreadyPaused(_) => "app.agent.set_pause.payload",
            CcError::AlreadyOffline(_) => "app.agent.set_logout.agent_logged_out",
            CcError::NotWrapping { .. } => "app.agent.set_waiting.not_allowed",
            CcError::UnknownAttempt(_) => "app.attempt.get.not_found",
            CcError::ReportingNotFound(_) => "app.attempt.reporting.not_found",
            CcError::NotProcessing(_) => "app.attempt.renewal.not_processing",
            CcError::InvalidState { .. } => "app.attempt.invalid_state",
            CcError::InvalidParam(_) => "app.cc.invalid_param",
        }
    }

    /// The HTTP status Webitel would answer with.
    pub fn status_code(&self) -> u16 {
        match self {
            CcError::UnknownAgent(_)
            | CcError::UnknownQueue(_)
            | CcError::UnknownAttempt(_)
            | CcError::ReportingNotFound(_) => 404,
            _ => 400,
        }
    }
}
