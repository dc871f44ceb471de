-- leased schema version 1: leases, blobs, servers.

-- One row per address (DHCPv4 address, DHCPv6 IA_NA address, or the first
-- address of a delegated prefix): the record with the highest seq. The
-- primary key makes one address impossible for two rows, whichever server
-- writes it.
CREATE TABLE leases (
    addr           inet     PRIMARY KEY,
    family         smallint NOT NULL,
    prefix_len     smallint NOT NULL DEFAULT 0,
    seq            bigint   NOT NULL,
    state          smallint NOT NULL,
    pool           text     NOT NULL DEFAULT '',
    section        integer  NOT NULL DEFAULT 0,
    client_id      bytea,
    htype          smallint NOT NULL DEFAULT 0,
    hwaddr         bytea,
    hostname       text     NOT NULL DEFAULT '',
    -- Times in unix nanoseconds (exact round trip of Go's time.Time);
    -- NULL is the zero time. to_timestamp(expiry_ns / 1e9) reads them.
    start_ns       bigint,
    t1_ns          bigint,
    t2_ns          bigint,
    expiry_ns      bigint,
    preferred_ns   bigint,
    xid            bigint   NOT NULL DEFAULT 0,
    prev_xid       bigint   NOT NULL DEFAULT 0,
    giaddr         inet,
    relay_info     bytea,
    fr_nonce       boolean  NOT NULL DEFAULT false,
    reconf_key     bytea,
    -- uint64 stored bit for bit (may read negative).
    replay_counter bigint   NOT NULL DEFAULT 0,
    iaid           bigint   NOT NULL DEFAULT 0,
    -- Which server wrote the row, and when (tombstone retention).
    server_name    text     NOT NULL DEFAULT '',
    updated        timestamptz NOT NULL DEFAULT now(),
    -- A host address, never a network: inet would otherwise accept
    -- 10.0.0.0/24 next to 10.0.0.1.
    CONSTRAINT leases_host_addr CHECK (masklen(addr) = CASE family(addr) WHEN 4 THEN 32 ELSE 128 END),
    CONSTRAINT leases_family CHECK (family = family(addr) AND family IN (4, 6)),
    CONSTRAINT leases_prefix_len CHECK (prefix_len BETWEEN 0 AND 128 AND (family = 6 OR prefix_len = 0)),
    CONSTRAINT leases_seq CHECK (seq >= 0),
    CONSTRAINT leases_xid CHECK (xid BETWEEN 0 AND 4294967295 AND prev_xid BETWEEN 0 AND 4294967295
        AND iaid BETWEEN 0 AND 4294967295)
);
CREATE INDEX leases_pool ON leases (pool);

-- Keyed opaque records (campaign state, the server DUID); the last write
-- of a key wins, an empty value deletes it. seq orders the last writes.
CREATE SEQUENCE blobs_seq;
CREATE TABLE blobs (
    kind    smallint NOT NULL,
    key     bytea    NOT NULL,
    value   bytea    NOT NULL,
    seq     bigint   NOT NULL,
    updated timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, key)
);

-- Servers sharing this database. epoch grows at each start of a server:
-- the fencing token of the cluster work (take-over) to come.
CREATE TABLE servers (
    server_name text        PRIMARY KEY,
    started     timestamptz NOT NULL,
    heartbeat   timestamptz NOT NULL,
    epoch       bigint      NOT NULL DEFAULT 1,
    version     text        NOT NULL DEFAULT '',
    -- Set by a clean stop, cleared at start: a stopped server is not a
    -- dead one (nothing to wait for).
    stopped     timestamptz
);

-- leased_fence fails the calling transaction unless the server still holds
-- the epoch it registered with: every batch of a registered server calls
-- it first, so once a later start (or, later, a take-over) has raised the
-- epoch, the old process can no longer write. FOR SHARE makes a concurrent
-- epoch change wait for batches in flight.
CREATE FUNCTION leased_fence(name text, want bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    cur bigint;
BEGIN
    SELECT epoch INTO cur FROM servers WHERE server_name = name FOR SHARE;
    IF cur IS DISTINCT FROM want THEN
        RAISE EXCEPTION 'leased server % is fenced: its epoch % was superseded by %', name, want, cur
            USING ERRCODE = 'LF001';
    END IF;
END
$$;
