-- leased schema version 3: campaigns across the cluster (issue #12,
-- docs/cluster.md "Campaigns").

-- What a server observed of a client of a campaign it does not lead (a
-- client renewing, rebinding, NAKed, releasing through it), for the
-- campaign's leader to apply: every server reports, one leads. Rows are
-- written in batches off the reply path and deleted by the leader once
-- the campaign state they led to is stored. event is a reconf.EventKind;
-- addr is NULL for an event without an address (DISCOVER).
CREATE TABLE campaign_outcomes (
    id          bigserial PRIMARY KEY,
    campaign    bigint   NOT NULL CHECK (campaign BETWEEN 1 AND 4294967295),
    addr        inet,
    client      bytea,
    v6          boolean  NOT NULL DEFAULT false,
    event       smallint NOT NULL,
    at_ns       bigint   NOT NULL,
    server_name text     NOT NULL
);
CREATE INDEX campaign_outcomes_campaign ON campaign_outcomes (campaign, id);

-- Campaign IDs are unique across the servers sharing the database: a
-- server takes the next one here (campaign state is keyed by ID in
-- blobs). One row.
CREATE TABLE campaign_ids (
    one  boolean PRIMARY KEY DEFAULT true CHECK (one),
    next bigint  NOT NULL CHECK (next BETWEEN 1 AND 4294967296)
);
INSERT INTO campaign_ids (next) VALUES (1);
