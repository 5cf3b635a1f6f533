-- Trunks and routing: routing schemas (flow JSON), outbound routes, SIP gateways.
CREATE TABLE routing_schemas (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    domain_id BIGINT NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL DEFAULT 'default',
    flow TEXT NOT NULL DEFAULT '[]',
    payload TEXT NOT NULL DEFAULT '{}',
    debug BIGINT NOT NULL DEFAULT 0,
    editor BIGINT NOT NULL DEFAULT 0,
    tags TEXT NOT NULL DEFAULT '[]',
    created_at BIGINT NOT NULL,
    created_by BIGINT,
    updated_at BIGINT NOT NULL,
    updated_by BIGINT
);
CREATE INDEX routing_schemas_domain ON routing_schemas (domain_id);

-- The highest pos among a domain's enabled routes whose pattern matches wins.
CREATE TABLE outbound_routes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    domain_id BIGINT NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    pattern TEXT NOT NULL,
    schema_id BIGINT NOT NULL REFERENCES routing_schemas(id),
    disabled BIGINT NOT NULL DEFAULT 0,
    pos BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by BIGINT,
    updated_at BIGINT NOT NULL,
    updated_by BIGINT
);
CREATE INDEX outbound_routes_domain ON outbound_routes (domain_id, pos);

-- password_sealed is sealed with <data>/secret.key (see the store's secret module), never plain.
CREATE TABLE sip_gateways (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    domain_id BIGINT NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    register BIGINT NOT NULL DEFAULT 0,
    enable BIGINT NOT NULL DEFAULT 1,
    proxy TEXT NOT NULL DEFAULT '',
    host TEXT NOT NULL DEFAULT '',
    ipacl TEXT NOT NULL DEFAULT '[]',
    account TEXT NOT NULL DEFAULT '',
    username TEXT NOT NULL DEFAULT '',
    password_sealed TEXT NOT NULL DEFAULT '',
    expires BIGINT NOT NULL DEFAULT 600,
    registrar TEXT NOT NULL DEFAULT '',
    schema_id BIGINT REFERENCES routing_schemas(id),
    usage TEXT NOT NULL DEFAULT '',
    r_state BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    created_by BIGINT,
    updated_at BIGINT NOT NULL,
    updated_by BIGINT,
    UNIQUE (domain_id, name)
);
CREATE INDEX sip_gateways_mode ON sip_gateways (register, enable);

-- Domains seeded before these object classes existed: their built-in admin role gets them too.
UPDATE roles SET scopes = json_insert(scopes, '$[#]', json('{"class":"gateways","access":"xrwd"}'))
 WHERE builtin = 1 AND name = 'admin' AND scopes NOT LIKE '%"gateways"%';
UPDATE roles SET scopes = json_insert(scopes, '$[#]', json('{"class":"acr_routing","access":"xrwd"}'))
 WHERE builtin = 1 AND name = 'admin' AND scopes NOT LIKE '%"acr_routing"%';
