-- leased schema version 2: the cluster (issue #12, docs/cluster.md).

-- A claim gives one server (owner, at its epoch) the right to allocate new
-- clients from the addresses first..last (DHCPv4, DHCPv6 IA_NA) or the
-- prefixes whose first addresses lie in first..last (IA_PD) until expires.
-- span is the same interval as numbers (DHCPv4: the address; DHCPv6: the
-- address + 2^32, so the two families never meet), computed by leased; the
-- exclusion constraint makes two overlapping claims impossible, whoever
-- inserts them and whatever their pool (pools never overlap either).
CREATE TABLE claims (
    id       bigserial   PRIMARY KEY,
    pool     text        NOT NULL,
    family   smallint    NOT NULL,
    first    inet        NOT NULL,
    last     inet        NOT NULL,
    span     numrange    NOT NULL,
    owner    text        NOT NULL REFERENCES servers (server_name),
    epoch    bigint      NOT NULL,
    claimed  timestamptz NOT NULL DEFAULT now(),
    expires  timestamptz NOT NULL,
    CONSTRAINT claims_family CHECK (family IN (4, 6) AND family(first) = family AND family(last) = family),
    CONSTRAINT claims_hosts CHECK (masklen(first) = masklen(last) AND masklen(first) = CASE family WHEN 4 THEN 32 ELSE 128 END),
    CONSTRAINT claims_order CHECK (first <= last AND NOT isempty(span)),
    CONSTRAINT claims_no_overlap EXCLUDE USING gist (span WITH &&)
);
CREATE INDEX claims_owner ON claims (owner, first);
CREATE INDEX claims_first ON claims (first);

-- Read-through by client (a server that has not seen a client reads its
-- rows before answering it).
CREATE INDEX leases_client ON leases (client_id) WHERE client_id IS NOT NULL;

-- leased_holds: a state that keeps its address from other clients
-- (lease.State.Holds: offered 1, bound 2, declined 5, quarantined 7).
CREATE FUNCTION leased_holds(state smallint) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$ SELECT state IN (1, 2, 5, 7) $$;

-- leased_commit_owned: the conditional write of a cluster server (srv at
-- epoch ep). Arrays as in the unconditional upsert, one element per
-- address, plus grp: records of one group (one Commit call, merged when
-- two calls share an address) are written all or none. A record is
-- rejected (returned with the reason) when
--   * it holds its address and another client holds the row (state that
--     holds, expiry not passed): 'held by another client';
--   * it holds its address, the row is not the same client's (client id
--     and IAID) and srv does not own a live claim covering the address at
--     epoch ep: 'not owner';
--   * it frees the address (any state that does not hold), the row was
--     last written by another server and still holds for its client, and
--     it is not that client's own release: 'held elsewhere'.
-- A record older than the row this server itself wrote (lower seq) or
-- freeing an address that has no row is skipped, as before. Every record
-- of a group with a rejected record is returned too ('group'), and none
-- of the group is written; the other groups are written.
CREATE FUNCTION leased_commit_owned(srv text, ep bigint, grp int4[],
    a inet[], fam int2[], plen int2[], sq int8[], st int2[], pl text[], sect int4[], cid bytea[],
    ht int2[], hw bytea[], host text[], t_start int8[], t_t1 int8[], t_t2 int8[], t_exp int8[],
    t_pref int8[], x int8[], px int8[], gi inet[], ri bytea[], nonce bool[], rk bytea[], rc int8[], ia int8[])
RETURNS TABLE (addr inet, reason text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    locked inet[];
    whys text[];
    bad int4[];
    now_ns int8 := (extract(epoch FROM clock_timestamp()) * 1e9)::int8;
BEGIN
    PERFORM leased_fence(srv, ep);
    -- Lock the existing rows (address order: one lock order for every
    -- writer), so the verdicts below hold until the commit.
    SELECT coalesce(array_agg(l.addr ORDER BY l.addr), '{}') INTO locked
        FROM (SELECT leases.addr FROM leases WHERE leases.addr = ANY (a) ORDER BY leases.addr FOR UPDATE) l;
    -- One verdict per record (NULL: write it).
    SELECT array_agg(v.why ORDER BY v.i) INTO whys FROM (
        SELECT u.i, CASE
            WHEN l.addr IS NULL AND NOT leased_holds(u.ust) THEN 'skip'
            WHEN l.addr IS NOT NULL AND l.server_name = srv AND u.usq < l.seq THEN 'skip'
            WHEN leased_holds(u.ust) AND l.addr IS NOT NULL AND leased_holds(l.state)
                 AND coalesce(l.expiry_ns, 9223372036854775807) > now_ns
                 AND NOT (l.client_id IS NOT DISTINCT FROM u.ucid AND l.iaid = u.uia) THEN 'held by another client'
            WHEN leased_holds(u.ust) AND NOT (l.addr IS NOT NULL AND u.ucid IS NOT NULL AND l.client_id = u.ucid AND l.iaid = u.uia)
                 AND NOT EXISTS (SELECT 1 FROM (SELECT * FROM claims c WHERE c.first <= u.ad
                                 ORDER BY c.first DESC LIMIT 1) c
                                 WHERE c.last >= u.ad AND c.owner = srv AND c.epoch = ep AND c.expires > now()) THEN 'not owner'
            WHEN NOT leased_holds(u.ust) AND l.server_name <> srv AND leased_holds(l.state)
                 AND coalesce(l.expiry_ns, 9223372036854775807) > now_ns
                 AND NOT (u.ust = 3 AND u.ucid IS NOT NULL AND l.client_id = u.ucid AND l.iaid = u.uia) THEN 'held elsewhere'
            END AS why
        FROM unnest(a, st, cid, ia, sq) WITH ORDINALITY AS u(ad, ust, ucid, uia, usq, i)
        -- LATERAL: one primary-key probe per record, never a scan of
        -- the table (the planner cannot count unnest's rows).
        LEFT JOIN LATERAL (SELECT * FROM leases WHERE leases.addr = u.ad) l ON true) v;
    -- Groups with a refused record: none of their records is written.
    SELECT coalesce(array_agg(DISTINCT x.g), '{}') INTO bad
        FROM unnest(grp, whys) AS x(g, w) WHERE x.w IS NOT NULL AND x.w <> 'skip';

    INSERT INTO leases (addr, family, prefix_len, seq, state, pool, section, client_id, htype, hwaddr, hostname,
        start_ns, t1_ns, t2_ns, expiry_ns, preferred_ns, xid, prev_xid, giaddr, relay_info, fr_nonce, reconf_key,
        replay_counter, iaid, server_name, updated)
    SELECT u.c1, u.c2, u.c3, u.c4, u.c5, u.c6, u.c7, u.c8, u.c9, u.c10, u.c11, u.c12, u.c13, u.c14, u.c15, u.c16,
        u.c17, u.c18, u.c19, u.c20, u.c21, u.c22, u.c23, u.c24, srv, now()
    FROM unnest(a, fam, plen, sq, st, pl, sect, cid, ht, hw, host, t_start, t_t1, t_t2, t_exp, t_pref, x, px, gi,
        ri, nonce, rk, rc, ia, grp, whys) AS u(c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15,
        c16, c17, c18, c19, c20, c21, c22, c23, c24, g, w)
    WHERE u.w IS NULL AND NOT (u.g = ANY (bad))
    ON CONFLICT ON CONSTRAINT leases_pkey DO UPDATE SET
        family = excluded.family, prefix_len = excluded.prefix_len, seq = excluded.seq, state = excluded.state,
        pool = excluded.pool, section = excluded.section, client_id = excluded.client_id, htype = excluded.htype,
        hwaddr = excluded.hwaddr, hostname = excluded.hostname, start_ns = excluded.start_ns, t1_ns = excluded.t1_ns,
        t2_ns = excluded.t2_ns, expiry_ns = excluded.expiry_ns, preferred_ns = excluded.preferred_ns,
        xid = excluded.xid, prev_xid = excluded.prev_xid, giaddr = excluded.giaddr, relay_info = excluded.relay_info,
        fr_nonce = excluded.fr_nonce, reconf_key = excluded.reconf_key, replay_counter = excluded.replay_counter,
        iaid = excluded.iaid, server_name = excluded.server_name, updated = excluded.updated
    -- A row that was absent when the verdicts were taken and appeared
    -- since can only be this server's own (a new holding record needs
    -- this server's claim; a freeing one of an absent row is skipped):
    -- its seq orders it. A locked row passed the verdicts.
    WHERE CASE WHEN leases.server_name = srv THEN excluded.seq >= leases.seq
               ELSE leases.addr = ANY (locked) END;

    RETURN QUERY SELECT x.ad, coalesce(x.w, 'group') FROM unnest(a, grp, whys) AS x(ad, g, w)
        WHERE x.g = ANY (bad) AND (x.w IS NULL OR x.w <> 'skip');
END
$$;

-- The server leading each campaign (LeadCampaign): the leadership itself is
-- the session advisory lock (class 0x6c6c, hashtext(campaign)) held by
-- backend pid; this row only names it for the listings, which show it
-- while that lock is held.
CREATE TABLE campaign_leaders (
    campaign text        PRIMARY KEY,
    leader   text        NOT NULL,
    pid      integer     NOT NULL,
    since    timestamptz NOT NULL
);
