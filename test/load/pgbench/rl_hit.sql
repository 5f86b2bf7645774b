-- one rate-limited request on a hot key (windows 20 to 80 ms, max 3 to 6)
\set k random(1, 4)
SELECT audit.op_rl(:k);
