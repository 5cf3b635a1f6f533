-- Call history: one row per leg, upserted at every state change of the call.
CREATE TABLE calls_history (
    id TEXT PRIMARY KEY,
    domain_id BIGINT NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    parent_id TEXT NOT NULL DEFAULT '',
    bridged_id TEXT NOT NULL DEFAULT '',
    user_id BIGINT,
    direction TEXT NOT NULL DEFAULT '',
    destination TEXT NOT NULL DEFAULT '',
    from_type TEXT NOT NULL DEFAULT '',
    from_number TEXT NOT NULL DEFAULT '',
    from_name TEXT NOT NULL DEFAULT '',
    from_id TEXT NOT NULL DEFAULT '',
    to_type TEXT NOT NULL DEFAULT '',
    to_number TEXT NOT NULL DEFAULT '',
    to_name TEXT NOT NULL DEFAULT '',
    to_id TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    answered_at BIGINT NOT NULL DEFAULT 0,
    bridged_at BIGINT NOT NULL DEFAULT 0,
    hangup_at BIGINT NOT NULL DEFAULT 0,
    stored_at BIGINT NOT NULL,
    duration BIGINT NOT NULL DEFAULT 0,
    bill_sec BIGINT NOT NULL DEFAULT 0,
    hold_sec BIGINT NOT NULL DEFAULT 0,
    wait_sec BIGINT NOT NULL DEFAULT 0,
    cause TEXT NOT NULL DEFAULT '',
    sip_code BIGINT NOT NULL DEFAULT 0,
    hangup_by TEXT NOT NULL DEFAULT '',
    transfer_from TEXT NOT NULL DEFAULT '',
    transfer_to TEXT NOT NULL DEFAULT '',
    variables TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX calls_history_domain_created ON calls_history (domain_id, created_at);
CREATE INDEX calls_history_user ON calls_history (user_id, created_at);
CREATE INDEX calls_history_parent ON calls_history (parent_id);
CREATE INDEX calls_history_live ON calls_history (hangup_at);
