-- leased schema version 5: campaigns across the cluster (issue #12).
-- Every server checks each heartbeat whether any campaign row changed
-- (CampaignRowsVersion: the highest seq of the kind) before it reads them
-- all; this index answers that from its last entry.
CREATE INDEX blobs_kind_seq ON blobs (kind, seq);
