-- consume one of the 4 most recently issued tokens
\set b random(0, 3)
SELECT audit.op_consume(:b);
