-- leased: reserved addresses outside the writer's claims (issue #12;
-- docs/cluster.md "Reserved addresses").
--
-- Same signature, plans and lock order as 0004 (read its comments: one
-- primary-key probe per record that also locks it, LATERAL in address
-- order, enable_seqscan off); one verdict changes. A holding record whose
-- htype has bit 10 set (lease.Lease.Reserved, store/postgres README) was
-- made by the engine from the client's own reservation: it is written
-- even outside the writer's live claims ('not owner' no longer applies),
-- provided the row is absent, not held, expired, or already this client's
-- — the 'held by another client' verdict, taken first, still refuses it
-- over another client's live lease. Every server of a cluster knows every
-- reservation and no engine hands a reserved address to another client,
-- so the only writers of that address are servers serving that client.
CREATE OR REPLACE FUNCTION leased_commit_owned(srv text, ep bigint, grp int4[],
    a inet[], fam int2[], plen int2[], sq int8[], st int2[], pl text[], sect int4[], cid bytea[],
    ht int2[], hw bytea[], host text[], t_start int8[], t_t1 int8[], t_t2 int8[], t_exp int8[],
    t_pref int8[], x int8[], px int8[], gi inet[], ri bytea[], nonce bool[], rk bytea[], rc int8[], ia int8[])
RETURNS TABLE (addr inet, reason text)
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
#variable_conflict use_column
DECLARE
    whys text[];
    locked inet[];
    bad int4[];
    now_ns int8 := (extract(epoch FROM clock_timestamp()) * 1e9)::int8;
BEGIN
    PERFORM leased_fence(srv, ep);
    -- One verdict per record (NULL: write it), its row locked first.
    SELECT array_agg(v.why ORDER BY v.i),
           coalesce(array_agg(v.ad) FILTER (WHERE v.had), '{}'),
           coalesce(array_agg(DISTINCT v.g) FILTER (WHERE v.why <> 'skip'), '{}')
        INTO whys, locked, bad
    FROM (
        SELECT u.i, u.ad, u.g, l.addr IS NOT NULL AS had, CASE
            WHEN l.addr IS NULL AND NOT leased_holds(u.ust) THEN 'skip'
            WHEN l.addr IS NOT NULL AND l.server_name = srv AND u.usq < l.seq THEN 'skip'
            WHEN leased_holds(u.ust) AND l.addr IS NOT NULL AND leased_holds(l.state)
                 AND coalesce(l.expiry_ns, 9223372036854775807) > now_ns
                 AND NOT (l.client_id IS NOT DISTINCT FROM u.ucid AND l.iaid = u.uia) THEN 'held by another client'
            WHEN leased_holds(u.ust) AND NOT (l.addr IS NOT NULL AND u.ucid IS NOT NULL AND l.client_id = u.ucid AND l.iaid = u.uia)
                 AND (u.uht & 1024) = 0
                 AND NOT EXISTS (SELECT 1 FROM (SELECT * FROM claims c WHERE c.first <= u.ad
                                 ORDER BY c.first DESC LIMIT 1) c
                                 WHERE c.last >= u.ad AND c.owner = srv AND c.epoch = ep AND c.expires > now()) THEN 'not owner'
            WHEN NOT leased_holds(u.ust) AND l.server_name <> srv AND leased_holds(l.state)
                 AND coalesce(l.expiry_ns, 9223372036854775807) > now_ns
                 AND NOT (u.ust = 3 AND u.ucid IS NOT NULL AND l.client_id = u.ucid AND l.iaid = u.uia) THEN 'held elsewhere'
            END AS why
        -- Records in address order, so the rows are locked in that order.
        FROM (SELECT * FROM unnest(a, st, cid, ia, sq, grp, ht) WITH ORDINALITY AS u(ad, ust, ucid, uia, usq, g, uht, i)
              ORDER BY u.ad) u
        -- LATERAL with FOR UPDATE: never pulled up into a join, one
        -- primary-key probe per record, which also locks the row.
        LEFT JOIN LATERAL (SELECT leases.addr, leases.server_name, leases.seq, leases.state, leases.expiry_ns,
                                  leases.client_id, leases.iaid
                           FROM leases WHERE leases.addr = u.ad FOR UPDATE) l ON true
    ) v;

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
    WHERE CASE WHEN leases.server_name = srv THEN excluded.seq >= leases.seq
               ELSE leases.addr = ANY (locked) END;

    IF cardinality(bad) > 0 THEN
        RETURN QUERY SELECT x.ad, coalesce(x.w, 'group') FROM unnest(a, grp, whys) AS x(ad, g, w)
            WHERE x.g = ANY (bad) AND (x.w IS NULL OR x.w <> 'skip');
    END IF;
END
$$;
