-- Do-not-call lists (Webitel's `/call_center/list`): numbers a dialer queue must not call.
-- A number appears once per list; `expire_at` (epoch ms, NULL = never) ends its bar.
-- A queue names at most one list (`dnc_list`); a list in use by a queue cannot be deleted.
CREATE TABLE cc_lists (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    domain_id BIGINT NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    created_by BIGINT,
    updated_at BIGINT NOT NULL,
    updated_by BIGINT,
    UNIQUE (domain_id, name)
);

CREATE TABLE cc_list_communications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    domain_id BIGINT NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    list_id BIGINT NOT NULL REFERENCES cc_lists(id) ON DELETE CASCADE,
    number TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    expire_at BIGINT,
    UNIQUE (list_id, number)
);

ALTER TABLE cc_queues ADD COLUMN dnc_list_id BIGINT REFERENCES cc_lists(id);
CREATE INDEX cc_queues_dnc_list ON cc_queues (dnc_list_id);
