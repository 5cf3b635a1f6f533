-- Dialer members: the people an outbound queue calls, each with its numbers
-- (communications, a JSON array kept whole), and the retry bookkeeping the dialer keeps
-- (attempts, ready_at, stop_cause). `destination` repeats the first number for search and
-- for the CSV import's duplicate check. Attempts name their member.
CREATE TABLE cc_members (
    id BIGSERIAL PRIMARY KEY,
    domain_id BIGINT NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    queue_id BIGINT NOT NULL REFERENCES cc_queues(id) ON DELETE CASCADE,
    name TEXT NOT NULL DEFAULT '',
    priority BIGINT NOT NULL DEFAULT 0,
    timezone TEXT NOT NULL DEFAULT '',
    bucket_id BIGINT,
    agent_id BIGINT,
    variables TEXT NOT NULL DEFAULT '{}',
    communications TEXT NOT NULL DEFAULT '[]',
    destination TEXT NOT NULL DEFAULT '',
    expire_at BIGINT,
    ready_at BIGINT NOT NULL DEFAULT 0,
    stop_cause TEXT,
    stop_at BIGINT,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_activity_at BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    created_by BIGINT,
    updated_at BIGINT NOT NULL,
    updated_by BIGINT
);
CREATE INDEX cc_members_domain ON cc_members (domain_id);
CREATE INDEX cc_members_destination ON cc_members (queue_id, destination);
-- The dialer's read: a queue's members that may be called now.
CREATE INDEX cc_members_ready ON cc_members (queue_id, priority, ready_at) WHERE stop_cause IS NULL;

ALTER TABLE cc_attempts ADD COLUMN member_id BIGINT;
ALTER TABLE cc_attempts ADD COLUMN member_name TEXT;
CREATE INDEX cc_attempts_member ON cc_attempts (member_id);
