-- issue a one-time token (TTL 10 ms to 10 s)
\set n random(1, 16)
\set t random(1, 6)
SELECT audit.op_issue(:n, :t);
