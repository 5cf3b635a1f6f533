-- Contact center: teams, skills, agents (one per user) with their skills and live status,
-- queues with the skills they ask for, and one row per queue attempt for history.
CREATE TABLE cc_teams (
    id BIGSERIAL PRIMARY KEY,
    domain_id BIGINT NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    strategy TEXT NOT NULL,
    max_no_answer BIGINT NOT NULL DEFAULT 0,
    no_answer_delay_time BIGINT NOT NULL DEFAULT 0,
    wrap_up_time BIGINT NOT NULL DEFAULT 0,
    call_timeout BIGINT NOT NULL DEFAULT 0,
    invite_chat_timeout BIGINT NOT NULL DEFAULT 0,
    task_accept_timeout BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    created_by BIGINT,
    updated_at BIGINT NOT NULL,
    updated_by BIGINT,
    UNIQUE (domain_id, name)
);

CREATE TABLE cc_skills (
    id BIGSERIAL PRIMARY KEY,
    domain_id BIGINT NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    created_by BIGINT,
    updated_at BIGINT NOT NULL,
    updated_by BIGINT,
    UNIQUE (domain_id, name)
);

-- A team in use by an agent or queue cannot go (no cascade): the store says which.
CREATE TABLE cc_agents (
    id BIGSERIAL PRIMARY KEY,
    domain_id BIGINT NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL UNIQUE REFERENCES users(id) ON DELETE CASCADE,
    team_id BIGINT REFERENCES cc_teams(id),
    description TEXT NOT NULL DEFAULT '',
    progressive_count BIGINT NOT NULL DEFAULT 1,
    chat_count BIGINT NOT NULL DEFAULT 1,
    task_count BIGINT NOT NULL DEFAULT 1,
    is_supervisor BIGINT NOT NULL DEFAULT 0,
    allow_channels TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL DEFAULT 'offline',
    status_payload TEXT,
    last_status_change BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    created_by BIGINT,
    updated_at BIGINT NOT NULL,
    updated_by BIGINT
);
CREATE INDEX cc_agents_domain ON cc_agents (domain_id);
CREATE INDEX cc_agents_team ON cc_agents (team_id);

CREATE TABLE cc_agent_skills (
    id BIGSERIAL PRIMARY KEY,
    domain_id BIGINT NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    agent_id BIGINT NOT NULL REFERENCES cc_agents(id) ON DELETE CASCADE,
    skill_id BIGINT NOT NULL REFERENCES cc_skills(id) ON DELETE CASCADE,
    capacity BIGINT NOT NULL DEFAULT 0,
    enabled BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    created_by BIGINT,
    updated_at BIGINT NOT NULL,
    updated_by BIGINT,
    UNIQUE (agent_id, skill_id)
);
CREATE INDEX cc_agent_skills_skill ON cc_agent_skills (skill_id);

-- kind is Webitel's queue `type` (0 offline … 10 outbound call).
CREATE TABLE cc_queues (
    id BIGSERIAL PRIMARY KEY,
    domain_id BIGINT NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    kind BIGINT NOT NULL DEFAULT 0,
    strategy TEXT NOT NULL DEFAULT 'fifo',
    enabled BIGINT NOT NULL DEFAULT 1,
    priority BIGINT NOT NULL DEFAULT 0,
    team_id BIGINT REFERENCES cc_teams(id),
    payload TEXT NOT NULL DEFAULT '{}',
    variables TEXT NOT NULL DEFAULT '{}',
    timeout BIGINT NOT NULL DEFAULT 0,
    sec_locate_agent BIGINT NOT NULL DEFAULT 0,
    ringtone_id BIGINT,
    ringtone_name TEXT NOT NULL DEFAULT '',
    sticky_agent BIGINT NOT NULL DEFAULT 0,
    processing BIGINT NOT NULL DEFAULT 0,
    processing_sec BIGINT NOT NULL DEFAULT 30,
    processing_renewal_sec BIGINT NOT NULL DEFAULT 0,
    tags TEXT NOT NULL DEFAULT '[]',
    created_at BIGINT NOT NULL,
    created_by BIGINT,
    updated_at BIGINT NOT NULL,
    updated_by BIGINT
);
CREATE INDEX cc_queues_domain ON cc_queues (domain_id);
CREATE INDEX cc_queues_team ON cc_queues (team_id);

CREATE TABLE cc_queue_skills (
    id BIGSERIAL PRIMARY KEY,
    domain_id BIGINT NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    queue_id BIGINT NOT NULL REFERENCES cc_queues(id) ON DELETE CASCADE,
    skill_id BIGINT NOT NULL REFERENCES cc_skills(id) ON DELETE CASCADE,
    lvl BIGINT NOT NULL DEFAULT 0,
    min_capacity BIGINT NOT NULL DEFAULT 0,
    max_capacity BIGINT NOT NULL DEFAULT 100,
    enabled BIGINT NOT NULL DEFAULT 1,
    UNIQUE (queue_id, skill_id)
);
CREATE INDEX cc_queue_skills_skill ON cc_queue_skills (skill_id);

-- Written by the contact center as an attempt progresses (ids are its own). Names are copied
-- so that history outlives a deleted queue or agent; hence no foreign keys but the domain.
CREATE TABLE cc_attempts (
    id BIGINT PRIMARY KEY,
    domain_id BIGINT NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    queue_id BIGINT NOT NULL,
    queue_name TEXT NOT NULL DEFAULT '',
    team_id BIGINT,
    agent_id BIGINT,
    agent_name TEXT,
    member_call_id TEXT NOT NULL,
    agent_call_id TEXT,
    destination TEXT NOT NULL DEFAULT '',
    joined_at BIGINT NOT NULL,
    offering_at BIGINT,
    bridged_at BIGINT,
    leaving_at BIGINT,
    reporting_at BIGINT,
    result TEXT,
    description TEXT
);
CREATE INDEX cc_attempts_domain_joined ON cc_attempts (domain_id, joined_at);
CREATE INDEX cc_attempts_member_call ON cc_attempts (member_call_id);
CREATE INDEX cc_attempts_agent_call ON cc_attempts (agent_call_id);
-- Queue counters (active, waiting) count the attempts not yet left.
CREATE INDEX cc_attempts_open ON cc_attempts (queue_id) WHERE leaving_at IS NULL;
