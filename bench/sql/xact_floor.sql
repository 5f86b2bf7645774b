-- The write floor: the cheapest transaction that writes.  It takes a
-- transaction ID and commits (commit record, commit log, proc array) and
-- writes nothing else, which every transaction that changes a row must also
-- do.  Write workloads are compared with it to separate the cost of
-- PostgreSQL's commit from the cost of the operation.
SELECT pg_current_xact_id();
